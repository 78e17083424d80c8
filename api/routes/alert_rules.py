"""Alert rules: list a page at a time, create, read, edit (pause, resume) and remove. Reads
need `jobs:read`, changes `admin`; rule errors (422 invalid naming the field, 404 unknown,
409 taken) are answered by the table in ``workers/errors.py``."""

from __future__ import annotations

from fastapi import APIRouter

from api.alert_schemas import AlertRuleIn, AlertRuleOut, AlertRulePage, AlertRulePatch
from api.auth import reader
from api.resource_routes import ResourceRoutes
from tasks.alerts import rule_store as store
from tasks.alerts.errors import AlertRuleNotFound

router = APIRouter(prefix="/v1/alert-rules", tags=["alerts"])
rules = ResourceRoutes(router, "rule", AlertRuleNotFound, AlertRuleOut, reader, noun="alert rule")
rules.add_create(
    "Create an alert rule",
    """Add a rule; the evaluator reads it from its next slot. 422 `invalid_alert_rule`
    naming the field for a NaN or infinite threshold, SQL that is not one read-only SELECT,
    annotations that do not render, a channel that does not exist...; 409 when the name is
    taken. Needs `admin`.""",
    AlertRuleIn,
    lambda body: store.create_rule(body.to_spec()),
)
rules.add_list(
    "List alert rules",
    "Rules, newest first, a page at a time, each with its last evaluation.",
    AlertRulePage,
    store.list_rules,
)
rules.add_get("Get an alert rule", "One rule.", store.get_rule)
rules.add_update(
    "Edit, pause or resume an alert rule",
    """Change the fields sent, checked as a whole (nothing changes on a 422). A new source,
    spec, op, threshold or labels resets the rule's alerts; `{"paused": true}` pauses
    (alerts keep their state). Needs `admin`.""",
    AlertRulePatch,
    store.update_rule,
)
rules.add_delete(
    "Remove an alert rule",
    """Remove a rule, its alerts and their history; firing alerts are RESOLVED first. Needs
    `admin`.""",
    store.delete_rule,
)
