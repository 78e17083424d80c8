"""The evaluator: which rules are due, and the evaluation of a chunk of them.

A rule's slots are its ``interval_s`` apart, shifted by a fixed offset (a whole number of
ticks inside the interval, from the rule's id), so every evaluator computes the same slots
and the rules of one interval do not all fall due on the same tick. The slot's time is what
the source is asked about and what the timers run to. Each tick splits the due rules into
chunks (:data:`CHUNK` rules); ``maintenance.alerts`` evaluates the first and sends the rest to
the workers as ``alerts.evaluate_chunk`` tasks (``tasks/alerts/tasks.py``).

A chunk reads every distinct (source, spec, slot) once, decides every instance, then applies
what it found through :func:`tasks.alerts.instances.apply_slots`, which claims each (rule,
slot) with a compare-and-set on the rule, so a second worker or a second beat's tick that
evaluated it too writes nothing; a slot that moves nothing writes only its claim. A rule
whose source fails records the error and follows its ``on_error``; nothing a rule does stops
the others.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

from sqlalchemy import select

from tasks.alerts import TICK_S, instances, notices, routing
from tasks.alerts.decision import NO_DATA, Current, Missing, Policy, Reading, decide
from tasks.alerts.errors import EvaluationFailed
from tasks.alerts.instances import Observed, SlotWork, fingerprint
from tasks.alerts.rules import RuleSpec, spec_of
from tasks.alerts.sources import Rows, read
from tasks.alerts.states import AlertState
from workers.store.engine import session_scope
from workers.store.models import AlertInstance, AlertRule
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: Rules one chunk evaluates at most.
CHUNK = 1000
#: What a source said at a slot: its rows, or the error it failed with.
Answer = tuple[Rows | None, str | None]


def offset_of(rule_id: uuid.UUID, interval_s: int) -> int:
    """A rule's fixed offset inside its interval: a whole number of ticks, from its id."""
    return rule_id.int % max(interval_s // TICK_S, 1) * TICK_S


def slot_of(at: datetime, interval_s: int, offset_s: int = 0) -> datetime:
    """The newest slot at or before ``at`` of an ``interval_s`` rule shifted by ``offset_s``."""
    seconds = (int(at.timestamp()) - offset_s) // interval_s * interval_s + offset_s
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Due:
    """A rule whose slot ``slot_at`` nobody has applied yet."""

    rule_id: uuid.UUID
    slot_at: datetime


@dataclass
class TickReport:
    """What a tick (or a chunk) did: a maintenance run's figures."""

    rules: int = 0
    evaluated: int = 0
    taken: int = 0
    errors: int = 0
    notices: int = 0
    reads: int = 0

    def add(self, other: TickReport) -> None:
        """Count ``other`` in."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


@dataclass(frozen=True)
class _Known:
    id: uuid.UUID
    labels: dict[str, str]
    state: AlertState
    since: datetime
    value: float | None
    error: str | None


def due(at: datetime) -> list[Due]:
    """Every unpaused rule whose newest slot at ``at`` has not been applied, by id."""
    query = (
        select(AlertRule.id, AlertRule.interval_s, AlertRule.last_slot_at)
        .where(AlertRule.paused.is_(False))
        .order_by(AlertRule.id)
    )
    with session_scope() as session:
        rows = session.execute(query).all()
    found = []
    for rule_id, interval_s, last_slot_at in rows:
        slot = slot_of(at, interval_s, offset_of(rule_id, interval_s))
        if last_slot_at is None or last_slot_at < slot:
            found.append(Due(rule_id, slot))
    return found


def chunks(items: Sequence[Due], size: int | None = None) -> list[list[Due]]:
    """``items`` in chunks of at most ``size`` (:data:`CHUNK`)."""
    size = size or CHUNK
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def _known(rule_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, _Known]]:
    i = AlertInstance
    query = select(i.rule_id, i.fingerprint, i.id, i.labels, i.state, i.since, i.last_value,
                   i.last_error).where(i.rule_id.in_(rule_ids))  # fmt: skip
    found: dict[uuid.UUID, dict[str, _Known]] = {rule_id: {} for rule_id in rule_ids}
    with session_scope() as session:
        for rule_id, key, *row in session.execute(query):
            found[rule_id][key] = _Known(row[0], dict(row[1]), AlertState(row[2]), *row[3:])
    return found


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


def _ask(spec: RuleSpec, slot_at: datetime) -> Answer:
    try:
        return read(spec.source, spec.spec, slot_at), None
    except EvaluationFailed as error:
        return None, error.message


def _checked(spec: RuleSpec, answer: Answer) -> Answer:
    """The answer, or an error when two of its rows name one instance of this rule."""
    rows, error = answer
    seen: set[str] = set()
    for labels, _ in rows or []:
        key = fingerprint({**labels, **spec.labels})
        if key in seen:
            return None, f"two rows have the labels {labels}; each row must name one instance"
        seen.add(key)
    return rows, error


def _work(
    rule: AlertRule, spec: RuleSpec, slot_at: datetime, answer: Answer, known: dict[str, _Known]
) -> SlotWork:
    """What slot ``slot_at`` of ``rule`` does to each of its instances, given the source's
    answer and the instances as they are."""
    rows, error = _checked(spec, answer)
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
        changed = instance is None or (instance.value, instance.error) != (value, problem)
        observed.append(
            Observed(labels, instance.id if instance else None, move, value, problem, changed)
        )
    if error is not None:
        log.warning(
            "alert rule %s failed: %s",
            rule.name,
            error,
            extra={"action": "alert.evaluation_failed", "rule": rule.name},
        )
    return SlotWork(rule.id, rule.generation, slot_at, observed, error, not spec.channels)


def evaluate(pairs: Sequence[tuple[AlertRule, datetime]]) -> tuple[TickReport, set[uuid.UUID]]:
    """Read, decide and apply each (rule, slot), then send the notices they owe; the report
    and the ids of the rules whose slot this call applied (the others: another evaluator had,
    or the rule changed since it was read)."""
    report = TickReport(rules=len(pairs))
    known = _known([rule.id for rule, _ in pairs])
    answers: dict[tuple[str, str, datetime], Answer] = {}
    works = []
    for rule, slot_at in pairs:
        try:
            spec = spec_of(rule)
            key = (rule.source, json.dumps(rule.spec, sort_keys=True), slot_at)
            if key not in answers:
                answers[key] = _ask(spec, slot_at)
            works.append(_work(rule, spec, slot_at, answers[key], known[rule.id]))
        except Exception:  # one rule's failure is logged and counted, never the chunk's
            report.errors += 1
            log.exception(
                "alert rule %s could not be evaluated",
                rule.name,
                extra={"action": "alert.evaluation_error", "rule": rule.name},
            )
    report.reads = len(answers)
    applied, owed = instances.apply_slots(works)
    report.evaluated = len(applied)
    report.taken = len(works) - len(applied)
    conf = routing.config(utcnow()) if owed else None
    for event_id in owed:
        if not notices.send_one(event_id, conf):
            break  # an outage: the next tick's flush sends the rest
        report.notices += 1
    return report, applied


def evaluate_rule(rule: AlertRule, slot_at: datetime) -> bool:
    """Read, decide and apply slot ``slot_at`` of ``rule``; whether this call applied it."""
    return rule.id in evaluate([(rule, slot_at)])[1]


def evaluate_chunk(items: Sequence[Due]) -> TickReport:
    """Evaluate one chunk of due rules (a rule paused or removed since it was planned is
    left out)."""
    wanted = [item.rule_id for item in items]
    query = select(AlertRule).where(AlertRule.id.in_(wanted), AlertRule.paused.is_(False))
    with session_scope() as session:
        rules = {rule.id: rule for rule in session.scalars(query)}
    return evaluate([(rules[i.rule_id], i.slot_at) for i in items if i.rule_id in rules])[0]


def evaluate_due(at: datetime) -> TickReport:
    """Evaluate every rule due at ``at`` in this process, chunk after chunk, then send the
    notices still owed and flush the alert groups (the tests drive slots with it;
    ``maintenance.alerts`` spreads the chunks over the workers instead)."""
    report = TickReport()
    for chunk in chunks(due(at)):
        report.add(evaluate_chunk(chunk))
    report.notices += notices.flush()
    report.notices += routing.flush_groups(at).notices
    return report


def encode(items: Sequence[Due]) -> list[list[str]]:
    """A chunk as a task's JSON argument."""
    return [[str(item.rule_id), item.slot_at.isoformat()] for item in items]


def decode(items: Sequence[Sequence[str]]) -> list[Due]:
    """A chunk from a task's JSON argument."""
    return [Due(uuid.UUID(rule_id), datetime.fromisoformat(at)) for rule_id, at in items]


def figures(report: TickReport) -> dict[str, int]:
    """The report as a maintenance run's figures."""
    return asdict(report)
