"""Inhibit rules: firing alerts that mute others. Reads need `jobs:read`, changes `admin`."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import reader
from api.resource_routes import ResourceRoutes
from api.routing_schemas import InhibitRuleIn, InhibitRuleOut, InhibitRulePage, InhibitRulePatch
from tasks.alerts import route_store as store
from tasks.alerts.errors import InhibitRuleNotFound

router = APIRouter(prefix="/v1/inhibit-rules", tags=["alerts"])
rules = ResourceRoutes(
    router, "inhibit_rule", InhibitRuleNotFound, InhibitRuleOut, reader, noun="inhibit rule"
)
rules.add_create(
    "Create an inhibit rule",
    """Add a rule: while an alert passing `source_matchers` fires, the alerts passing
    `target_matchers` with the same values of the `equal` labels are muted. Needs `admin`.""",
    InhibitRuleIn,
    lambda body: store.create_inhibit_rule(body.to_spec()),
)
rules.add_list("List inhibit rules", "Inhibit rules, newest first.", InhibitRulePage,
               store.list_inhibit_rules)  # fmt: skip
rules.add_get("Get an inhibit rule", "One inhibit rule.", store.get_inhibit_rule)
rules.add_update("Edit an inhibit rule", "Change the fields sent. Needs `admin`.",
                 InhibitRulePatch, store.update_inhibit_rule)  # fmt: skip
rules.add_delete("Remove an inhibit rule", "Remove an inhibit rule. Needs `admin`.",
                 store.delete_inhibit_rule)  # fmt: skip
