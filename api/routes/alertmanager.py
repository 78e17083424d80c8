"""The Alertmanager-compatible door: ``POST /api/v2/alerts`` takes the alerts a Prometheus
server's ``alerting:`` section sends, with Alertmanager's JSON and times, so they go through
Taskyard's rules, state machine and channels (``tasks/alerts/door.py``). Needs `alerts:write`.
A body that does not validate is a 422 in the one error shape, naming the alert and field."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.alert_schemas import PostableAlert
from api.auth import AlertSendKey
from api.errors import ApiProblem
from api.schemas import error_responses
from tasks.alerts import door
from workers.store.types import utcnow

router = APIRouter(prefix="/api/v2", tags=["alerts"])

Alerts = Annotated[list[PostableAlert], Body(max_length=door.MAX_ALERTS)]


def _settled(alerts: list[PostableAlert]) -> list[door.Posted]:
    now = utcnow()
    settled = []
    for position, alert in enumerate(alerts):
        try:
            posted = door.settle(
                alert.labels, alert.annotations, alert.starts_at, alert.ends_at,
                alert.generator_url, now,
            )  # fmt: skip
        except ValueError as error:
            field = f"body.{position}.endsAt"
            detail = [{"field": field, "message": str(error)}]
            raise ApiProblem(422, "validation_error", f"{field}: {error}", detail) from None
        settled.append(posted)
    return settled


@router.post("/alerts", summary="Receive alerts", responses=error_responses(401, 403, 422, 503))
def post_alerts(body: Alerts, key: AlertSendKey) -> Response:
    """Keep each alert by its labels (a re-post refreshes it): an `endsAt` in the past resolves
    it, none means now plus `TASKYARD_ALERTS_RESOLVE_TIMEOUT_S`. Rules with the `alertmanager`
    source turn them into alerts; when there is none, the rule `alertmanager` is made (give it
    channels). Point a Prometheus server's `alerting:` section here. Needs `alerts:write`."""
    door.receive(_settled(body))
    return Response(status_code=200)
