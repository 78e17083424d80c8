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
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tasks.alerts import instances, notices
from tasks.alerts.errors import AlertRuleConflict, AlertRuleNotFound
from tasks.alerts.rules import RESETTING, RuleSpec, check_rule, spec_of
from workers.store.engine import session_scope
from workers.store.lookup import add_named, get_or_raise, named_or_raise, newest_page, row_or_raise
from workers.store.models import AlertRule
from workers.store.types import utcnow

#: The fields an edit may change (``name`` is the rule's identity).
EDITABLE = frozenset(f.name for f in fields(RuleSpec)) - {"name"}


def _taken(name: str) -> AlertRuleConflict:
    return AlertRuleConflict(f"an alert rule named {name!r} exists already", {"name": name})


def create_rule(spec: RuleSpec) -> AlertRule:
    """Store a new rule (checked); :class:`InvalidAlertRule` when it does not validate,
    :class:`AlertRuleConflict` when the name is taken."""
    checked = check_rule(spec)
    return add_named(AlertRule(**checked.columns()), AlertRule.name, _taken)


def list_rules(before: tuple[datetime, uuid.UUID] | None, limit: int) -> list[AlertRule]:
    """Up to ``limit`` rules created before the position ``before``, newest first."""
    return newest_page(select(AlertRule), AlertRule.created_at, AlertRule.id, before, limit)


def named(names: list[str]) -> list[AlertRule]:
    """The rules with these names (those that exist)."""
    with session_scope() as session:
        return list(session.scalars(select(AlertRule).where(AlertRule.name.in_(names))))


def get_rule(rule_id: uuid.UUID) -> AlertRule:
    """The rule with ``rule_id``, or :class:`AlertRuleNotFound`."""
    return get_or_raise(AlertRule, rule_id, AlertRuleNotFound, "alert rule")


def find_rule(name: str) -> AlertRule:
    """The rule called ``name``, or :class:`AlertRuleNotFound`."""
    return named_or_raise(AlertRule, AlertRule.name, name, AlertRuleNotFound, "alert rule")


def update_rule(rule_id: uuid.UUID, changes: Mapping[str, Any]) -> AlertRule:
    """Apply ``changes`` (fields of :data:`EDITABLE`), checked as a whole before anything is
    written; an edit in :data:`~tasks.alerts.rules.RESETTING` resets the rule's instances."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with session_scope() as session:
        record = row_or_raise(
            session, AlertRule, rule_id, AlertRuleNotFound, "alert rule", lock=True
        )
        before = spec_of(record)
        after = check_rule(replace(before, **changes))
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
        record = row_or_raise(
            session, AlertRule, rule_id, AlertRuleNotFound, "alert rule", lock=True
        )
        record.generation += 1
        made = instances.reset_rule(session, record.id, utcnow())
    instances.log_events(made)
    notices.flush(rule_id)
    with session_scope() as session:
        record = row_or_raise(session, AlertRule, rule_id, AlertRuleNotFound, "alert rule")
        session.delete(record)
