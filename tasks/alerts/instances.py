"""Every write of an alert instance's state, each with its event row in the same transaction.
The moves and who makes them are :data:`tasks.alerts.states.TRANSITIONS`; every move here is
looked up there, and every ``UPDATE`` re-checks the state it leaves. By actor:

- worker (the evaluator, ``evaluation.py``): :func:`apply_slot`, which first claims the slot
  with a compare-and-set on the rule (``last_slot_at`` older than the slot, ``generation``
  unchanged), so one slot of one rule is applied once, whoever else evaluated it;
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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
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


@dataclass(frozen=True)
class _Writes:
    """The writes of one rule's instances at one time ``at`` (a slot, or an operator's edit),
    in the caller's ``session``: each move with its event row."""

    session: Session
    rule_id: uuid.UUID
    at: datetime

    def _event(
        self, instance_id: uuid.UUID, move: AlertTransition, value: float | None
    ) -> AlertEventRow:
        row = AlertEventRow(
            id=uuid.uuid4(),
            instance_id=instance_id,
            rule_id=self.rule_id,
            event=move.event.value,
            source_state=(move.source or move.target).value,
            target_state=move.target.value,
            actor=move.actor.value,
            at=self.at,
            value=value,
            notice=move.notice.value if move.notice else None,
            created_at=utcnow(),
        )
        self.session.add(row)
        return row

    def move(
        self, instance_id: uuid.UUID, move: AlertTransition, value: float | None
    ) -> AlertEventRow:
        """Apply ``move`` to the instance (its ``since`` becomes ``at``) and write its event."""
        assert move.source is not None
        values: dict[str, object] = {"state": move.target.value, "since": self.at}
        if move.event is AlertEvent.FIRE:
            values["fired_at"] = self.at
        done = self.session.execute(
            update(AlertInstance)
            .where(AlertInstance.id == instance_id, AlertInstance.state == move.source.value)
            .values(**values)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleInstance(f"alert instance {instance_id} is no longer {move.source}")
        return self._event(instance_id, move, value)

    def create(self, labels: dict[str, str], value: float | None) -> AlertEventRow:
        """A new instance, inactive since ``at``, and its ``create`` event."""
        instance = AlertInstance(
            id=uuid.uuid4(),
            rule_id=self.rule_id,
            fingerprint=fingerprint(labels),
            labels=labels,
            state=AlertState.INACTIVE.value,
            since=self.at,
            created_at=utcnow(),
        )
        self.session.add(instance)
        self.session.flush()
        created = transition(None, AlertState.INACTIVE, AlertEvent.CREATE)
        return self._event(instance.id, created, value)


def _claim(
    session: Session, rule_id: uuid.UUID, generation: int, slot_at: datetime, error: str | None
) -> bool:
    newer = or_(AlertRule.last_slot_at.is_(None), AlertRule.last_slot_at < slot_at)
    done = session.execute(
        update(AlertRule)
        .where(AlertRule.id == rule_id, AlertRule.generation == generation, newer)
        .values(
            last_slot_at=slot_at,
            last_evaluated_at=utcnow(),
            last_error=error[:ERROR_LIMIT] if error else None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def apply_slot(
    rule_id: uuid.UUID,
    generation: int,
    slot_at: datetime,
    observed: Sequence[Observed],
    error: str | None,
) -> list[uuid.UUID] | None:
    """Claim slot ``slot_at`` of the rule (as of ``generation``) and apply what was observed,
    all in one transaction; the ids of the events that owe a notice, or ``None`` when the
    slot was taken (evaluated already, or the rule was edited since it was read)."""
    made: list[AlertEventRow] = []
    try:
        with session_scope() as session:
            if not _claim(session, rule_id, generation, slot_at, error):
                return None
            evaluated = utcnow()
            writes = _Writes(session, rule_id, slot_at)
            for seen in observed:
                instance_id = seen.instance_id
                if instance_id is None:
                    created = writes.create(seen.labels, seen.value)
                    made.append(created)
                    instance_id = created.instance_id
                if seen.move is not None:
                    made.append(writes.move(instance_id, seen.move, seen.value))
                session.execute(
                    update(AlertInstance)
                    .where(AlertInstance.id == instance_id)
                    .values(
                        last_value=seen.value,
                        last_evaluated_at=evaluated,
                        last_error=seen.error[:ERROR_LIMIT] if seen.error else None,
                    )
                )
    except (StaleInstance, IntegrityError):
        # Another evaluator moved an instance (or made one) after this one read them: it
        # applied a slot in between, so this reading is stale; the next tick reads again.
        return None
    log_events(made)
    return [row.id for row in made if row.notice is not None]


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
    writes = _Writes(session, rule_id, at)
    for instance_id, state, value in active:
        move = transition(AlertState(state), AlertState.INACTIVE, AlertEvent.RESET)
        made.append(writes.move(instance_id, move, value))
    return made


@dataclass(frozen=True)
class InstanceRecord:
    """An instance as read, with its rule's name."""

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


def _names(rule_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not rule_ids:
        return {}
    with session_scope() as session:
        query = select(AlertRule.id, AlertRule.name).where(AlertRule.id.in_(rule_ids))
        return {key: value for key, value in session.execute(query)}


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
    names = _names({row.rule_id for row in rows})
    return [
        InstanceRecord(
            row.id,
            row.rule_id,
            names.get(row.rule_id, "?"),
            dict(row.labels),
            row.state,
            row.since,
            row.fired_at,
            row.last_value,
            row.last_evaluated_at,
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
    event_id: uuid.UUID, notification_id: uuid.UUID | None, error: str | None
) -> None:
    """Mark the event's notice sent (as ``notification_id``), or given up with ``error``."""
    with session_scope() as session:
        session.execute(
            update(AlertEventRow)
            .where(AlertEventRow.id == event_id, AlertEventRow.notified_at.is_(None))
            .values(
                notified_at=utcnow(),
                notification_id=notification_id,
                notice_error=error[:ERROR_LIMIT] if error else None,
            )
        )
