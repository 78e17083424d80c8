"""Alert rules: list a page at a time, create, read, edit (pause, resume) and remove. Reads
need `jobs:read`, changes `admin`; rule errors (422 invalid naming the field, 404 unknown,
409 taken) are answered by the table in ``api/errors.py``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.alert_schemas import NOT_NULL, AlertRuleIn, AlertRuleOut, AlertRulePage, AlertRulePatch
from api.auth import AdminKey, ReadKey
from api.listing import Cursor, Limit, fetch_page
from api.resources import non_null, path_id
from api.schemas import error_responses
from tasks.alerts import rule_store as store
from tasks.alerts.errors import AlertRuleNotFound

router = APIRouter(prefix="/v1/alert-rules", tags=["alerts"])


def _rule_id(rule_id: str) -> uuid.UUID:
    return path_id(rule_id, "alert rule", AlertRuleNotFound.code)


@router.get("", summary="List alert rules", responses=error_responses(401, 403, 422, 503))
def list_rules(key: ReadKey, cursor: Cursor = None, limit: Limit = 50) -> AlertRulePage:
    """Rules, newest first, a page at a time, each with its last evaluation."""
    page, next_cursor = fetch_page(store.list_rules, cursor, limit)
    return AlertRulePage(items=[AlertRuleOut.from_record(r) for r in page], next_cursor=next_cursor)


@router.post(
    "",
    status_code=201,
    summary="Create an alert rule",
    responses=error_responses(401, 403, 409, 422, 503),
)
def create_rule(body: AlertRuleIn, key: AdminKey) -> AlertRuleOut:
    """Add a rule; the evaluator reads it from its next slot. 422 `invalid_alert_rule`
    naming the field for a NaN or infinite threshold, SQL that is not one read-only SELECT,
    annotations that do not render, a channel that does not exist...; 409 when the name is
    taken. Needs `admin`."""
    return AlertRuleOut.from_record(store.create_rule(body.to_spec()))


@router.get("/{rule_id}", summary="Get an alert rule", responses=error_responses(401, 403, 404))
def get_rule(rule_id: str, key: ReadKey) -> AlertRuleOut:
    """One rule."""
    return AlertRuleOut.from_record(store.get_rule(_rule_id(rule_id)))


@router.patch(
    "/{rule_id}",
    summary="Edit, pause or resume an alert rule",
    responses=error_responses(401, 403, 404, 422, 503),
)
def update_rule(rule_id: str, body: AlertRulePatch, key: AdminKey) -> AlertRuleOut:
    """Change the fields sent, checked as a whole (nothing changes on a 422). A new source,
    spec, op, threshold or labels resets the rule's alerts; `{"paused": true}` pauses
    (alerts keep their state). Needs `admin`."""
    changes = non_null(body.changes(), NOT_NULL)
    return AlertRuleOut.from_record(store.update_rule(_rule_id(rule_id), changes))


@router.delete(
    "/{rule_id}",
    status_code=204,
    summary="Remove an alert rule",
    responses=error_responses(401, 403, 404, 503),
)
def delete_rule(rule_id: str, key: AdminKey) -> Response:
    """Remove a rule, its alerts and their history; firing alerts are RESOLVED first. Needs
    `admin`."""
    store.delete_rule(_rule_id(rule_id))
    return Response(status_code=204)
