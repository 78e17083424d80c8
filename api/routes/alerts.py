"""Alerts (a rule's instances: state, since when, last value, last error) and their history
of transitions, a page at a time. Needs `jobs:read`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.alert_schemas import AlertEventOut, AlertHistoryPage, AlertOut, AlertPage
from api.auth import ReadKey
from api.listing import Cursor, Limit, Position, listed
from api.schemas import error_responses
from tasks.alerts import instances, routing
from tasks.alerts import rule_store as store
from tasks.alerts.routing import Muting
from tasks.alerts.states import AlertState
from workers.names import NAME_PATTERN
from workers.store.models import AlertEventRow

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

RuleFilter = Annotated[
    str | None, Query(max_length=200, pattern=NAME_PATTERN.pattern, description="A rule's name.")
]


def _rule(name: str | None) -> uuid.UUID | None:
    return store.find_rule(name).id if name is not None else None


@router.get("", summary="List alerts", responses=error_responses(401, 403, 404, 422, 503))
def list_alerts(
    key: ReadKey,
    state: AlertState | None = None,
    rule: RuleFilter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AlertPage:
    """Alerts, newest first (of one state, of one rule): state, since, last value, last
    error, and the silences and inhibit rules muting it now."""
    rule_id = _rule(rule)

    muted: dict[str, Muting] = {}

    def fetch(before: Position | None, count: int) -> list[instances.InstanceRecord]:
        wanted = state.value if state is not None else None
        found = instances.list_instances(before, count, state=wanted, rule_id=rule_id)
        if found:
            muted.update(routing.muted_now())
        return found

    def shown(record: instances.InstanceRecord) -> AlertOut:
        return AlertOut.from_record(record, muted.get(str(record.id)))

    return listed(AlertPage, shown, fetch, cursor, limit)


@router.get("/history", summary="Alert history", responses=error_responses(401, 403, 404, 422, 503))
def alert_history(
    key: ReadKey, rule: RuleFilter = None, cursor: Cursor = None, limit: Limit = 50
) -> AlertHistoryPage:
    """Every transition, newest first (of one rule), with the notice it sent."""
    rule_id = _rule(rule)

    def fetch(before: tuple[datetime, uuid.UUID] | None, count: int) -> list[AlertEventRow]:
        return instances.history(before, count, rule_id=rule_id)

    return listed(AlertHistoryPage, AlertEventOut.from_record, fetch, cursor, limit)
