"""Alert rules in the store: created, listed a page at a time, read, edited, paused and
removed; every write is checked (:func:`tasks.alerts.rules.check_rule`) first.

An edit of the source, its spec, the condition or the labels makes the rule's instances
other alerts: they are reset (``reset`` events, a RESOLVED for those that had fired) in the
transaction of the edit, and its ``generation`` moves on, so an evaluation read before the
edit writes nothing. Any other edit (annotations, interval, timers, channels) keeps them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from sqlalchemy import select

from tasks.alerts import instances, notices
from tasks.alerts.errors import AlertRuleConflict, AlertRuleNotFound
from tasks.alerts.rules import RESETTING, RuleSpec, check_rule, spec_of
from workers.store.engine import session_scope
from workers.store.lookup import NamedRows, name_taken
from workers.store.models import AlertRule
from workers.store.types import utcnow

#: The fields an edit may change (``name`` is the rule's identity).
EDITABLE = frozenset(f.name for f in fields(RuleSpec)) - {"name"}


RULES = NamedRows(
    AlertRule,
    AlertRuleNotFound,
    "alert rule",
    name_taken(AlertRuleConflict, "an alert rule"),
    EDITABLE,
)
#: A page of rules, newest first; one by id; one by name (:class:`AlertRuleNotFound`).
list_rules, get_rule, find_rule = RULES.page, RULES.get, RULES.find


def create_rule(spec: RuleSpec) -> AlertRule:
    """Store a new rule (checked); :class:`InvalidAlertRule` when it does not validate,
    :class:`AlertRuleConflict` when the name is taken."""
    checked = check_rule(spec)
    return RULES.add(AlertRule(**checked.columns()))


def named(names: list[str]) -> list[AlertRule]:
    """The rules with these names (those that exist)."""
    with session_scope() as session:
        return list(session.scalars(select(AlertRule).where(AlertRule.name.in_(names))))


def update_rule(rule_id: uuid.UUID, changes: Mapping[str, Any]) -> AlertRule:
    """Apply ``changes`` (fields of :data:`EDITABLE`), checked as a whole before anything is
    written; an edit in :data:`~tasks.alerts.rules.RESETTING` resets the rule's instances."""
    RULES.check_editable(changes)
    with session_scope() as session:
        record = RULES.row(session, rule_id, lock=True)
        before = spec_of(record)
        after = check_rule(replace(before, **changes), before)
        resets = any(getattr(before, name) != getattr(after, name) for name in RESETTING)
        for name, value in after.columns().items():
            setattr(record, name, value)
        made = []
        if resets:
            record.generation += 1
            made = instances.reset_rule(session, record.id, utcnow())
    instances.log_events(made)
    if made:
        notices.flush(rule_id)
    return record


def set_paused(rule_id: uuid.UUID, paused: bool) -> AlertRule:
    """Pause (its instances keep their state, nothing is evaluated) or resume a rule."""
    return update_rule(rule_id, {"paused": paused})


def delete_rule(rule_id: uuid.UUID) -> None:
    """Remove a rule with its instances and history; the alerts that had fired are RESOLVED
    first (their notifications are recorded before the rule goes)."""
    with session_scope() as session:
        record = RULES.row(session, rule_id, lock=True)
        record.generation += 1
        made = instances.reset_rule(session, record.id, utcnow())
    instances.log_events(made)
    notices.flush(rule_id)
    with session_scope() as session:
        record = RULES.row(session, rule_id)
        session.delete(record)
