"""Every write of an alert instance's state, each with its event row in the same transaction.
The moves and who makes them are :data:`tasks.alerts.states.TRANSITIONS`; every move here is
looked up there, and every ``UPDATE`` re-checks the state it leaves. By actor:

- worker (the evaluator, ``evaluation.py``): :func:`apply_slots`, which first claims each
  rule's slot with a compare-and-set on the rule (``last_slot_at`` older than the slot,
  ``generation`` unchanged), so one slot of one rule is applied once, whoever else evaluated
  it. A chunk's rules are claimed in one statement per (slot time, generation, error): those
  whose slot moves nothing in one transaction, the others in a second that applies their
  moves too (each in its own, :func:`apply_slot`, when one of them meets an instance moved
  since it was read). An instance's value is written only when it changed: a slot that moves
  nothing writes nothing but the claims;
- operator (an edit of a rule's source, condition or labels, or its removal):
  :func:`reset_rule`.

Notices are written as events and sent afterwards (``notices.py``); the reads of instances
and history for the API and CLI are here too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tasks.alerts.states import AlertEvent, AlertState, AlertTransition, transition
from workers.errors import TaskyardError
from workers.store.engine import session_scope
from workers.store.lookup import newest_page
from workers.store.models import AlertEventRow, AlertInstance, AlertRule
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: The most characters of an evaluation error an instance or rule keeps.
ERROR_LIMIT = 2_000


class StaleInstance(TaskyardError):
    """An instance was not in the state its move leaves (nothing was written)."""

    code = "alert_state_conflict"


def fingerprint(labels: dict[str, str]) -> str:
    """An instance's identity within its rule: SHA-256 of its labels as canonical JSON."""
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Observed:
    """What one slot says of one instance (``instance_id`` ``None``: a new one): the move it
    makes, if any, and the value or error to record."""

    labels: dict[str, str]
    instance_id: uuid.UUID | None
    move: AlertTransition | None
    value: float | None
    error: str | None
    changed: bool = True

    @property
    def writes(self) -> bool:
        """Whether applying it writes more than its value: a new instance or a move."""
        return self.instance_id is None or self.move is not None


@dataclass(frozen=True)
class SlotWork:
    """One rule's slot as evaluated: the claim to make and what to apply once it is made
    (``silent``: the rule has no channels, so its notices are settled as they are made)."""

    rule_id: uuid.UUID
    generation: int
    slot_at: datetime
    observed: Sequence[Observed]
    error: str | None
    silent: bool = False

    @property
    def quiet(self) -> bool:
        """Whether it moves nothing and failed nothing: only the claim (and changed values)."""
        return self.error is None and not any(seen.writes for seen in self.observed)


def _event(
    session: Session,
    instance_id: uuid.UUID,
    rule_id: uuid.UUID,
    move: AlertTransition,
    at: datetime,
    value: float | None,
    settled_at: datetime | None = None,
) -> AlertEventRow:
    """The event row of ``move`` (``settled_at``: its notice goes nowhere, settled as made)."""
    notice = move.notice.value if move.notice else None
    row = AlertEventRow(
        id=uuid.uuid4(),
        instance_id=instance_id,
        rule_id=rule_id,
        event=move.event.value,
        source_state=(move.source or move.target).value,
        target_state=move.target.value,
        actor=move.actor.value,
        at=at,
        value=value,
        notice=notice,
        notified_at=settled_at if notice else None,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def log_events(rows: Sequence[AlertEventRow]) -> None:
    """One line per transition made (after its transaction committed)."""
    for row in rows:
        log.info(
            "alert %s: %s -> %s",
            row.event,
            row.source_state,
            row.target_state,
            extra={
                "action": f"alert.{row.event}",
                "instance_id": str(row.instance_id),
                "rule_id": str(row.rule_id),
                "state": row.target_state,
                "at": row.at.isoformat(),
                "notice": row.notice,
            },
        )


def _move(
    session: Session,
    instance_id: uuid.UUID,
    rule_id: uuid.UUID,
    move: AlertTransition,
    at: datetime,
    value: float | None,
    settled_at: datetime | None = None,
) -> AlertEventRow:
    """Apply ``move`` to the instance (its ``since`` becomes ``at``) and write its event."""
    assert move.source is not None
    values: dict[str, object] = {"state": move.target.value, "since": at}
    if move.event is AlertEvent.FIRE:
        values["fired_at"] = at
    done = session.execute(
        update(AlertInstance)
        .where(AlertInstance.id == instance_id, AlertInstance.state == move.source.value)
        .values(**values)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleInstance(f"alert instance {instance_id} is no longer {move.source}")
    return _event(session, instance_id, rule_id, move, at, value, settled_at)


def _claim(session: Session, works: Sequence[SlotWork], at: datetime) -> set[uuid.UUID]:
    """Claim each work's slot: ``last_slot_at`` older than the slot and ``generation`` as read,
    one statement per (slot time, generation, error); the rules claimed."""
    groups: dict[tuple[datetime, int, str | None], list[uuid.UUID]] = defaultdict(list)
    for work in works:
        groups[(work.slot_at, work.generation, work.error)].append(work.rule_id)
    claimed: set[uuid.UUID] = set()
    for (slot_at, generation, error), ids in groups.items():
        newer = or_(AlertRule.last_slot_at.is_(None), AlertRule.last_slot_at < slot_at)
        done = session.execute(
            update(AlertRule)
            .where(AlertRule.id.in_(ids), AlertRule.generation == generation, newer)
            .values(
                last_slot_at=slot_at,
                last_evaluated_at=at,
                last_error=error[:ERROR_LIMIT] if error else None,
            )
            .returning(AlertRule.id)
            .execution_options(synchronize_session=False)
        )
        claimed |= set(done.scalars())
    return claimed


def _values(seen: Observed, at: datetime) -> dict[str, Any]:
    return {
        "last_value": seen.value,
        "last_evaluated_at": at,
        "last_error": seen.error[:ERROR_LIMIT] if seen.error else None,
    }


def _apply(
    session: Session, works: Sequence[SlotWork], at: datetime
) -> tuple[set[uuid.UUID], list[AlertEventRow]]:
    """Claim the works' slots and apply what each claimed one observed: new instances (one
    insert for all) and their ``create`` events, the values that changed, then the moves."""
    claimed = _claim(session, works, at)
    mine = [work for work in works if work.rule_id in claimed]
    fresh: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    rows = []
    for work in mine:
        for seen in work.observed:
            if seen.instance_id is None:
                key = fingerprint(seen.labels)
                fresh[(work.rule_id, key)] = instance_id = uuid.uuid4()
                rows.append({
                    "id": instance_id, "rule_id": work.rule_id, "fingerprint": key,
                    "labels": seen.labels, "state": AlertState.INACTIVE.value,
                    "since": work.slot_at, "created_at": at, **_values(seen, at),
                })  # fmt: skip
            elif seen.changed:
                session.execute(
                    update(AlertInstance)
                    .where(AlertInstance.id == seen.instance_id)
                    .values(**_values(seen, at))
                )
    if rows:
        session.execute(insert(AlertInstance), rows)
    created = transition(None, AlertState.INACTIVE, AlertEvent.CREATE)
    made: list[AlertEventRow] = []
    for work in mine:
        settled = at if work.silent else None
        for seen in work.observed:
            instance_id = seen.instance_id or fresh[(work.rule_id, fingerprint(seen.labels))]
            if seen.instance_id is None:
                made.append(_event(session, instance_id, work.rule_id, created, work.slot_at,
                                   seen.value, settled))  # fmt: skip
            if seen.move is not None:
                made.append(_move(session, instance_id, work.rule_id, seen.move, work.slot_at,
                                  seen.value, settled))  # fmt: skip
    return claimed, made


def _owed(made: Sequence[AlertEventRow]) -> list[uuid.UUID]:
    return [row.id for row in made if row.notice is not None and row.notified_at is None]


def apply_slots(works: Sequence[SlotWork]) -> tuple[set[uuid.UUID], list[uuid.UUID]]:
    """Claim and apply each rule's slot (see the module's docstring); the ids of the rules
    whose slot this call applied, and of the events that owe a notice."""
    quiet = [work for work in works if work.quiet]
    busy = [work for work in works if not work.quiet]
    with session_scope() as session:
        applied, _ = _apply(session, quiet, utcnow())
    try:
        with session_scope() as session:
            claimed, made = _apply(session, busy, utcnow())
    except (StaleInstance, IntegrityError):
        # One of them read its instances before another evaluator moved them: apply each
        # alone, so only the stale ones are left for the next tick.
        claimed, owed = set(), []
        for work in busy:
            mine = apply_slot(work)
            if mine is not None:
                claimed.add(work.rule_id)
                owed.extend(mine)
        return applied | claimed, owed
    log_events(made)
    return applied | claimed, _owed(made)


def apply_slot(work: SlotWork) -> list[uuid.UUID] | None:
    """Claim one rule's slot (as of its ``generation``) and apply what was observed, all in
    one transaction; the ids of the events that owe a notice, or ``None`` when the slot was
    taken (evaluated already, the rule edited since it was read, or an instance moved by
    another evaluator since)."""
    try:
        with session_scope() as session:
            claimed, made = _apply(session, [work], utcnow())
    except (StaleInstance, IntegrityError):
        return None
    if not claimed:
        return None
    log_events(made)
    return _owed(made)


def reset_rule(session: Session, rule_id: uuid.UUID, at: datetime) -> list[AlertEventRow]:
    """In the caller's transaction (an operator's edit or removal of the rule): every instance
    that is not inactive goes inactive, one that had fired with a RESOLVED owed; the events
    written (log them with :func:`log_events` once the transaction commits)."""
    made = []
    active = session.execute(
        select(AlertInstance.id, AlertInstance.state, AlertInstance.last_value).where(
            AlertInstance.rule_id == rule_id, AlertInstance.state != AlertState.INACTIVE.value
        )
    ).all()
    for instance_id, state, value in active:
        move = transition(AlertState(state), AlertState.INACTIVE, AlertEvent.RESET)
        made.append(_move(session, instance_id, rule_id, move, at, value))
    return made


@dataclass(frozen=True)
class InstanceRecord:
    """An instance as read, with its rule's name; ``last_evaluated_at`` is its rule's (a slot
    that changes nothing of an instance writes nothing to it)."""

    id: uuid.UUID
    rule_id: uuid.UUID
    rule: str
    labels: dict[str, str]
    state: str
    since: datetime
    fired_at: datetime | None
    last_value: float | None
    last_evaluated_at: datetime | None
    last_error: str | None
    created_at: datetime


def _rules(rule_ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[str, datetime | None]]:
    if not rule_ids:
        return {}
    with session_scope() as session:
        query = select(AlertRule.id, AlertRule.name, AlertRule.last_evaluated_at).where(
            AlertRule.id.in_(rule_ids)
        )
        return {key: (name, at) for key, name, at in session.execute(query)}


def list_instances(
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
    *,
    state: str | None = None,
    rule_id: uuid.UUID | None = None,
) -> list[InstanceRecord]:
    """Up to ``limit`` instances created before ``before``, newest first (of one state, of
    one rule)."""
    query = select(AlertInstance)
    if state is not None:
        query = query.where(AlertInstance.state == state)
    if rule_id is not None:
        query = query.where(AlertInstance.rule_id == rule_id)
    rows = newest_page(query, AlertInstance.created_at, AlertInstance.id, before, limit)
    return _records(rows)


def _records(rows: Sequence[AlertInstance]) -> list[InstanceRecord]:
    rules = _rules({row.rule_id for row in rows})
    return [
        InstanceRecord(
            row.id,
            row.rule_id,
            rules.get(row.rule_id, ("?", None))[0],
            dict(row.labels),
            row.state,
            row.since,
            row.fired_at,
            row.last_value,
            rules.get(row.rule_id, ("?", row.last_evaluated_at))[1] or row.last_evaluated_at,
            row.last_error,
            row.created_at,
        )
        for row in rows
    ]


def by_id(ids: set[uuid.UUID]) -> dict[uuid.UUID, InstanceRecord]:
    """The instances with these ids."""
    if not ids:
        return {}
    with session_scope() as session:
        rows = list(session.scalars(select(AlertInstance).where(AlertInstance.id.in_(ids))))
    return {record.id: record for record in _records(rows)}


def history(
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
    *,
    rule_id: uuid.UUID | None = None,
    instance_id: uuid.UUID | None = None,
) -> list[AlertEventRow]:
    """Up to ``limit`` events written before ``before``, newest first (of one rule, of one
    instance)."""
    query = select(AlertEventRow)
    if rule_id is not None:
        query = query.where(AlertEventRow.rule_id == rule_id)
    if instance_id is not None:
        query = query.where(AlertEventRow.instance_id == instance_id)
    return newest_page(query, AlertEventRow.created_at, AlertEventRow.id, before, limit)


def unsent(limit: int, rule_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """The oldest events that owe a notice not yet sent (of one rule)."""
    query = (
        select(AlertEventRow.id)
        .where(AlertEventRow.notice.is_not(None), AlertEventRow.notified_at.is_(None))
        .order_by(AlertEventRow.created_at)
        .limit(limit)
    )
    if rule_id is not None:
        query = query.where(AlertEventRow.rule_id == rule_id)
    with session_scope() as session:
        return list(session.scalars(query))


def settle_notice(
    event_id: uuid.UUID,
    notification_id: uuid.UUID | None,
    error: str | None,
    routes: Sequence[str] | None = None,
) -> None:
    """Mark the event's notice sent (as ``notification_id``), given up with ``error``, or
    taken by the groups of ``routes``."""
    with session_scope() as session:
        session.execute(
            update(AlertEventRow)
            .where(AlertEventRow.id == event_id, AlertEventRow.notified_at.is_(None))
            .values(
                notified_at=utcnow(),
                notification_id=notification_id,
                notice_error=error[:ERROR_LIMIT] if error else None,
                routes=list(routes) if routes else None,
            )
        )
