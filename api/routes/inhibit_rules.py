"""Inhibit rules: firing alerts that mute others. Reads need `jobs:read`, changes `admin`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.auth import AdminKey, ReadKey
from api.listing import Cursor, Limit, fetch_page
from api.resources import non_null, path_id
from api.routing_schemas import InhibitRuleIn, InhibitRuleOut, InhibitRulePage, InhibitRulePatch
from api.schemas import error_responses
from tasks.alerts import route_store as store
from tasks.alerts.errors import InhibitRuleNotFound

router = APIRouter(prefix="/v1/inhibit-rules", tags=["alerts"])


def _id(raw: str) -> uuid.UUID:
    return path_id(raw, "inhibit rule", InhibitRuleNotFound.code)


@router.get("", summary="List inhibit rules", responses=error_responses(401, 403, 422, 503))
def list_rules(key: ReadKey, cursor: Cursor = None, limit: Limit = 50) -> InhibitRulePage:
    """Inhibit rules, newest first."""
    page, next_cursor = fetch_page(store.list_inhibit_rules, cursor, limit)
    items = [InhibitRuleOut.from_record(r) for r in page]
    return InhibitRulePage(items=items, next_cursor=next_cursor)


@router.post("", status_code=201, summary="Create an inhibit rule",
             responses=error_responses(401, 403, 409, 422, 503))  # fmt: skip
def create_rule(body: InhibitRuleIn, key: AdminKey) -> InhibitRuleOut:
    """Add a rule: while an alert passing `source_matchers` fires, alerts passing
    `target_matchers` with the same values of the `equal` labels are muted. Needs `admin`."""
    return InhibitRuleOut.from_record(store.create_inhibit_rule(body.to_spec()))


@router.get("/{rule_id}", summary="Get an inhibit rule", responses=error_responses(401, 403, 404))
def get_rule(rule_id: str, key: ReadKey) -> InhibitRuleOut:
    """One inhibit rule."""
    return InhibitRuleOut.from_record(store.get_inhibit_rule(_id(rule_id)))


@router.patch("/{rule_id}", summary="Edit an inhibit rule",
              responses=error_responses(401, 403, 404, 422, 503))  # fmt: skip
def update_rule(rule_id: str, body: InhibitRulePatch, key: AdminKey) -> InhibitRuleOut:
    """Change the fields sent, checked as a whole. Needs `admin`."""
    changes = non_null(body.changes(), InhibitRulePatch.model_fields)
    return InhibitRuleOut.from_record(store.update_inhibit_rule(_id(rule_id), changes))


@router.delete("/{rule_id}", status_code=204, summary="Remove an inhibit rule",
               responses=error_responses(401, 403, 404, 503))  # fmt: skip
def delete_rule(rule_id: str, key: AdminKey) -> Response:
    """Remove an inhibit rule. Needs `admin`."""
    store.delete_inhibit_rule(_id(rule_id))
    return Response(status_code=204)
