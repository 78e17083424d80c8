"""One tick of the evaluator: every unpaused rule whose current slot has not been evaluated is
read, decided and applied; then the notices owed are sent.

A rule's slots are the whole multiples of its ``interval_s`` since the Unix epoch, so every
evaluator computes the same ones. The slot's time is what the source is asked about and what
the timers run to. Each slot of a rule is applied once: :func:`tasks.alerts.instances.
apply_slot` claims it with a compare-and-set on the rule in the transaction that writes its
transitions, so a second worker or a second beat's tick that evaluated it too writes nothing.
A rule whose source fails records the error and follows its ``on_error``; nothing a rule does
stops the others.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from tasks.alerts import instances, notices, routing
from tasks.alerts.decision import NO_DATA, Current, Missing, Policy, Reading, decide
from tasks.alerts.errors import EvaluationFailed
from tasks.alerts.instances import Observed, fingerprint
from tasks.alerts.rules import RuleSpec, spec_of
from tasks.alerts.sources import Rows, read
from tasks.alerts.states import AlertState
from workers.store.engine import session_scope
from workers.store.models import AlertInstance, AlertRule

log = logging.getLogger(__name__)


def slot_of(at: datetime, interval_s: int) -> datetime:
    """The newest slot of an ``interval_s`` rule at or before ``at``."""
    seconds = int(at.timestamp()) // interval_s * interval_s
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class TickReport:
    """What one tick did (a maintenance run's figures)."""

    rules: int = 0
    evaluated: int = 0
    taken: int = 0
    errors: int = 0
    notices: int = 0


@dataclass(frozen=True)
class _Known:
    id: uuid.UUID
    labels: dict[str, str]
    state: AlertState
    since: datetime


def _known(rule_id: uuid.UUID) -> dict[str, _Known]:
    query = select(AlertInstance).where(AlertInstance.rule_id == rule_id)
    with session_scope() as session:
        return {
            row.fingerprint: _Known(row.id, dict(row.labels), AlertState(row.state), row.since)
            for row in session.scalars(query)
        }


def _readings(
    spec: RuleSpec, rows: Rows | None, error: str | None, known: dict[str, _Known]
) -> dict[str, tuple[dict[str, str], Reading]]:
    """Each instance's reading this slot, by fingerprint: a value for each row; no data (or
    the error) for the known instances without one; and the rule's own labels when nothing
    is known yet and the error (or no data) counts, so it shows."""
    missing: Missing = Missing(error) if error is not None else NO_DATA
    readings: dict[str, tuple[dict[str, str], Reading]] = {}
    for labels, value in rows or []:
        final = {**labels, **spec.labels}
        readings[fingerprint(final)] = (final, value)
    for key, instance in known.items():
        readings.setdefault(key, (instance.labels, missing))
    policy = spec.on_error if error is not None else spec.no_data
    if not readings and (error is not None or policy is Policy.ALERTING):
        readings[fingerprint(dict(spec.labels))] = (dict(spec.labels), missing)
    return readings


def _source(spec: RuleSpec, slot_at: datetime) -> tuple[Rows | None, str | None]:
    try:
        rows = read(spec.source, spec.spec, slot_at)
    except EvaluationFailed as error:
        return None, error.message
    seen: set[str] = set()
    for labels, _ in rows:
        key = fingerprint({**labels, **spec.labels})
        if key in seen:
            return None, f"two rows have the labels {labels}; each row must name one instance"
        seen.add(key)
    return rows, None


def evaluate_rule(rule: AlertRule, slot_at: datetime) -> bool:
    """Read, decide and apply slot ``slot_at`` of ``rule``; whether this call applied it
    (false: another evaluator had, or the rule changed since it was read)."""
    spec = spec_of(rule)
    rows, error = _source(spec, slot_at)
    known = _known(rule.id)
    observed = []
    for key, (labels, reading) in _readings(spec, rows, error, known).items():
        instance = known.get(key)
        current = (
            Current(instance.state, instance.since)
            if instance
            else Current(AlertState.INACTIVE, slot_at)
        )
        move = decide(current, reading, spec.condition, slot_at)
        value = reading if isinstance(reading, float) else None
        problem = reading.error if isinstance(reading, Missing) else None
        observed.append(Observed(labels, instance.id if instance else None, move, value, problem))
    owed = instances.apply_slot(rule.id, rule.generation, slot_at, observed, error)
    if error is not None:
        log.warning(
            "alert rule %s failed: %s",
            rule.name,
            error,
            extra={"action": "alert.evaluation_failed", "rule": rule.name},
        )
    return owed is not None


def _due(at: datetime) -> list[tuple[AlertRule, datetime]]:
    query = select(AlertRule).where(AlertRule.paused.is_(False)).order_by(AlertRule.id)
    with session_scope() as session:
        rules = list(session.scalars(query))
    due = []
    for rule in rules:
        slot = slot_of(at, rule.interval_s)
        if rule.last_slot_at is None or rule.last_slot_at < slot:
            due.append((rule, slot))
    return due


def evaluate_due(at: datetime) -> TickReport:
    """Evaluate every rule due at ``at`` (each for its newest slot), then send the notices
    owed. A rule that cannot be evaluated at all is counted and logged; the others go on."""
    report = TickReport()
    for rule, slot in _due(at):
        report.rules += 1
        try:
            if evaluate_rule(rule, slot):
                report.evaluated += 1
            else:
                report.taken += 1
        except Exception:  # one rule's failure is logged and counted, never the tick's
            report.errors += 1
            log.exception(
                "alert rule %s could not be evaluated",
                rule.name,
                extra={"action": "alert.evaluation_error", "rule": rule.name},
            )
    report.notices = notices.flush()
    report.notices += routing.flush_groups(at).notices
    return report


def figures(report: TickReport) -> dict[str, int]:
    """The report as a maintenance run's figures."""
    return asdict(report)
