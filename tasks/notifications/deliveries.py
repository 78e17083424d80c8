"""Every write of a delivery's status, each one statement (or one transaction) that re-checks
the status it leaves. The moves and who makes them are
:data:`tasks.notifications.states.TRANSITIONS`; every guard here is derived from that table.
By actor:

- producer (``notify.py``) and operator: :func:`record` (a notification, its deliveries, their
  jobs and digest joins, in one transaction), :func:`replay`, :func:`cancel`;
- worker (``sending.py``): :func:`claim`, :func:`resend`, :func:`defer`, :func:`settle`.
  Every write after the claim names the claim's token, so a run that lost its claim cannot
  overwrite a newer outcome;
- reaper (``maintenance.notify_sweep``, ``tasks/maintenance/notify_sweep.py``):
  :func:`reap_orphans`.

The claim (and a resend's) commits durably: it is what keeps a send at most once, and its
flush also carries the job's start, written just before it without waiting
(``NOTIFY_DELIVER.durable_start``). What a worker writes after it (:func:`settle`, and
:func:`defer` instead of it) does not wait for PostgreSQL's WAL flush, like a job's outcome: a
server crash may undo the last few of them, and with them the job's outcome written after
them, so the job looks started by a silent worker and the reaper runs it again. Its delivery
is then found ``sending`` and handled as lost mid-send (``outcome_unknown``, or sent again on
an idempotent channel), or found waiting and sent once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Update,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from tasks.notifications.decision import CANCELLED, ORPHANED, OUTCOME_UNKNOWN, Decision
from tasks.notifications.errors import DeliveryNotFound, DeliveryStateConflict
from tasks.notifications.outcomes import Outcome
from tasks.notifications.states import (
    FINISHED,
    REPLAYABLE,
    TRANSITIONS,
    DeliveryEvent,
    DeliveryStatus,
)
from workers.jobcontext import JobContext
from workers.states import Actor
from workers.storable import storable_text
from workers.store import transitions
from workers.store.engine import session_scope, writer_connection
from workers.store.jobs import NewJob
from workers.store.lookup import newest_page, row_or_raise
from workers.store.models import (
    FINISHED_STATUSES,
    Channel,
    Delivery,
    DigestMember,
    Job,
    Notification,
    Template,
)
from workers.store.types import utcnow

#: The most characters of a provider's or a failure's text a delivery keeps.
ERROR_LIMIT = 2_000


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery as read: every column of its row."""

    id: uuid.UUID
    notification_id: uuid.UUID
    channel_id: uuid.UUID | None
    channel_name: str
    status: str
    job_id: uuid.UUID
    queue: str
    priority: int
    attempts: int
    max_attempts: int
    message_key: str
    digest_key: str | None
    run_at: datetime | None
    created_at: datetime
    sending_at: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None
    claim_token: str | None
    error_class: str | None
    last_error: str | None
    status_code: int | None
    provider_message_id: str | None
    maybe_delivered: bool
    duration_ms: int | None
    replay_of: uuid.UUID | None
    replayed_by: uuid.UUID | None

    @classmethod
    def of(cls, row: Delivery) -> DeliveryRecord:
        """The record of an ORM row."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


def _leaving(event: DeliveryEvent, actor: Actor) -> ColumnElement[bool]:
    return or_(*(Delivery.status == s.value for s in sorted(DeliveryStatus.sources(event, actor))))


def _param(column: str) -> BindParameter[Any]:
    """A parameter named ``delivery_<column>_`` (apart from a job's: see :func:`settle`),
    typed as the column is."""
    return bindparam(f"delivery_{column}_", type_=Delivery.__table__.c[column].type)


def _execute(statement: Any, params: dict[str, Any] | None = None, durable: bool = True) -> Any:
    with writer_connection(durable=durable) as connection:
        return connection.execute(statement, params or {})


# -- reads -----------------------------------------------------------------------------------


def get(delivery_id: uuid.UUID) -> DeliveryRecord:
    """The delivery ``delivery_id``, or :class:`DeliveryNotFound`."""
    with session_scope() as session:
        row = row_or_raise(session, Delivery, delivery_id, DeliveryNotFound, "delivery")
        return DeliveryRecord.of(row)


def find(delivery_id: uuid.UUID) -> DeliveryRecord | None:
    """The delivery ``delivery_id``, or ``None``."""
    with session_scope() as session:
        row = session.get(Delivery, delivery_id)
        return None if row is None else DeliveryRecord.of(row)


@dataclass(frozen=True)
class Loaded:
    """What a run of a delivery's job reads before its claim: the delivery, its channel's row
    (``None`` once removed), and the one notification it sends, unless it is a digest's."""

    delivery: DeliveryRecord
    channel: Channel | None
    notification: Notification | None
    #: The stored template ``notification`` names, if any and it still exists.
    template: Template | None = None


# Built once, as the worker's writes below are: it runs for every delivery.
_LOAD = (
    select(
        Delivery,
        Channel,
        Notification,
        Template,
        select(DigestMember.notification_id)
        .where(DigestMember.delivery_id == Delivery.id)
        .exists(),
    )
    .outerjoin(Channel, Channel.id == Delivery.channel_id)
    .join(Notification, Notification.id == Delivery.notification_id)
    .outerjoin(Template, Template.name == Notification.template_name)
    .where(Delivery.id == _param("id"))
)


def load(delivery_id: uuid.UUID) -> Loaded | None:
    """The delivery ``delivery_id`` with its channel, its notification and that one's
    template, in one statement on the worker's kept connection (``None``: no such delivery).

    ``notification`` is ``None`` for a delivery with digest members, or one with a
    ``digest_key``, which may gain members until it is claimed: read those with
    :func:`members` after the claim."""
    # An autocommit connection: one round trip, no BEGIN, no ping before it (a dropped
    # connection raises; the worker's caller tries again, see sending.deliver).
    with writer_connection() as connection, Session(connection) as session:
        row = session.execute(_LOAD, {"delivery_id_": delivery_id}).first()
    if row is None:
        return None
    delivery, channel, notification, template, has_members = row
    if delivery.digest_key is not None or has_members:
        return Loaded(DeliveryRecord.of(delivery), channel, None)
    return Loaded(DeliveryRecord.of(delivery), channel, notification, template)


@dataclass(frozen=True)
class DeliveryFilter:
    """Filters of a delivery listing (newest first)."""

    status: str | None = None
    channel: str | None = None
    notification_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def applied(self, query: Select[Any]) -> Select[Any]:
        """``query`` narrowed to these filters."""
        if self.status is not None:
            query = query.where(Delivery.status == self.status)
        if self.channel is not None:
            query = query.where(Delivery.channel_name == self.channel)
        if self.notification_id is not None:
            query = query.where(Delivery.notification_id == self.notification_id)
        if self.created_after is not None:
            query = query.where(Delivery.created_at >= self.created_after)
        if self.created_before is not None:
            query = query.where(Delivery.created_at < self.created_before)
        return query


def page(
    where: DeliveryFilter, before: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[DeliveryRecord]:
    """Up to ``limit`` deliveries matching ``where``, newest first, after ``before``."""
    rows = newest_page(
        where.applied(select(Delivery)), Delivery.created_at, Delivery.id, before, limit
    )
    return [DeliveryRecord.of(row) for row in rows]


def members(delivery: DeliveryRecord) -> list[Notification]:
    """The notifications ``delivery`` sends: its digest's members in the order they joined,
    else its own notification."""
    with session_scope() as session:
        joined = select(Notification).join(
            DigestMember, DigestMember.notification_id == Notification.id
        )
        rows = list(
            session.scalars(
                joined.where(DigestMember.delivery_id == delivery.id).order_by(
                    DigestMember.added_at, Notification.created_at
                )
            )
        )
        if not rows:
            rows = [session.get_one(Notification, delivery.notification_id)]
        return rows


# -- the producer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestJoin:
    """A notification folded into an open digest delivery of its channel."""

    delivery_id: uuid.UUID
    notification_id: uuid.UUID


def record(
    notification: Notification | None,
    new: Sequence[Delivery],
    carriers: Sequence[NewJob],
    joins: Sequence[DigestJoin] = (),
) -> None:
    """Insert a notification, its new deliveries (``queued`` or ``scheduled``), the jobs that
    carry them and its joins to open digests, all or none. A join names a digest that must
    still be open; a digest claimed in between raises :class:`DigestClosed`."""
    now = utcnow()
    with session_scope() as session:
        if notification is not None:
            session.add(notification)
            session.flush()
        for delivery in new:
            if delivery.status not in TRANSITIONS.created:
                raise ValueError(
                    f"a delivery is created queued or scheduled, not {delivery.status}"
                )
            session.add(delivery)
        session.flush()
        if carriers:
            session.execute(insert(Job), [job.row(now) for job in carriers])
        for join in joins:
            _join(session, join, now)
        for delivery in new:
            if delivery.digest_key is not None:
                session.add(
                    DigestMember(
                        delivery_id=delivery.id,
                        notification_id=delivery.notification_id,
                        added_at=now,
                    )
                )


class DigestClosed(Exception):
    """The digest a notification was to join was claimed for sending in between."""


def _join(session: Session, join: DigestJoin, now: datetime) -> None:
    open_digest = session.scalar(
        select(Delivery.id)
        .where(Delivery.id == join.delivery_id, *open_digest_conditions())
        .with_for_update()
    )
    if open_digest is None:
        raise DigestClosed(str(join.delivery_id))
    session.add(
        DigestMember(
            delivery_id=join.delivery_id, notification_id=join.notification_id, added_at=now
        )
    )


def open_digest_conditions() -> tuple[ColumnElement[bool], ...]:
    """What makes a delivery an open digest (the unique partial index's condition)."""
    return (
        Delivery.digest_key.is_not(None),
        Delivery.status == DeliveryStatus.SCHEDULED.value,
        Delivery.sending_at.is_(None),
    )


def open_digest(digest_key: str, channel_name: str) -> uuid.UUID | None:
    """The open digest delivery of ``digest_key`` on ``channel_name``, if there is one."""
    with session_scope() as session:
        return session.scalar(
            select(Delivery.id).where(
                Delivery.digest_key == digest_key,
                Delivery.channel_name == channel_name,
                *open_digest_conditions(),
            )
        )


# -- the worker ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendClaim:
    """A delivery claimed for one send: its token fences every later write."""

    delivery_id: uuid.UUID
    token: str
    attempt: int


# The worker's writes are built once: they run for every delivery, and building one costs
# more CPU than executing it (docs/performance.md, workload 7).
_CLAIM = (
    update(Delivery)
    .where(Delivery.id == _param("id"), _leaving(DeliveryEvent.CLAIM, Actor.WORKER))
    .values(
        status=DeliveryStatus.SENDING.value,
        claim_token=_param("claim_token"),
        sending_at=_param("sending_at"),
        attempts=Delivery.attempts + 1,
    )
    .returning(Delivery.attempts)
)


def claim(delivery_id: uuid.UUID, token: str) -> SendClaim | None:
    """Claim a waiting delivery for a send (``sending``); ``None`` when it is not waiting
    (another run has it, or it is finished)."""
    params = {
        "delivery_id_": delivery_id,
        "delivery_claim_token_": token,
        "delivery_sending_at_": utcnow(),
    }
    row = _execute(_CLAIM, params).first()
    return None if row is None else SendClaim(delivery_id, token, row[0])


def resend(delivery: DeliveryRecord, token: str) -> SendClaim | None:
    """Take over a delivery found ``sending`` whose run was lost, to send it again (an
    idempotent channel only: see :func:`tasks.notifications.decision.decide_lost`)."""
    statement = (
        update(Delivery)
        .where(
            Delivery.id == delivery.id,
            Delivery.claim_token == delivery.claim_token,
            _leaving(DeliveryEvent.RESEND, Actor.WORKER),
        )
        .values(claim_token=token, sending_at=utcnow(), attempts=Delivery.attempts + 1)
        .returning(Delivery.attempts)
    )
    row = _execute(statement).first()
    return None if row is None else SendClaim(delivery.id, token, row[0])


_DEFER = (
    update(Delivery)
    .where(Delivery.id == _param("id"), _leaving(DeliveryEvent.DEFER, Actor.WORKER))
    .values(status=DeliveryStatus.SCHEDULED.value, run_at=_param("run_at"))
)


def defer(delivery_id: uuid.UUID, wait_s: float) -> bool:
    """A limit or an open breaker holds the delivery back: ``scheduled`` until ``wait_s``
    from now (its job waits in the store too, holding no worker)."""
    params = {"delivery_id_": delivery_id, "delivery_run_at_": utcnow() + timedelta(seconds=wait_s)}
    return bool(_execute(_DEFER, params, durable=False).rowcount == 1)


_EVENT_OF = {
    DeliveryStatus.SENT: DeliveryEvent.SUCCEED,
    DeliveryStatus.RETRYING: DeliveryEvent.RETRY,
    DeliveryStatus.FAILED: DeliveryEvent.FAIL,
    DeliveryStatus.DEAD: DeliveryEvent.EXHAUST,
}


@cache
def _settle_statement(columns: frozenset[str]) -> Update:
    """The fenced UPDATE that sets ``columns`` (the set varies with the outcome)."""
    return (
        update(Delivery)
        .where(
            Delivery.id == _param("id"),
            Delivery.claim_token == _param("claim_token"),
            Delivery.status == DeliveryStatus.SENDING.value,
        )
        .values({column: _param(column) for column in columns})
    )


def settle(
    claim: SendClaim,
    decision: Decision,
    outcome: Outcome | None,
    job: JobContext | None = None,
    result: Any = None,
) -> bool:
    """Record how the send of ``claim`` ended (``outcome``; ``None`` when nothing was sent)
    and where ``decision`` takes the delivery. False when the claim was lost meanwhile.

    With ``job`` (the run's job, which ends here with ``result``), the job's success goes in
    the same round trip, and only if the delivery's write matched."""
    if not DeliveryStatus.SENDING.may_become(decision.status, Actor.WORKER):
        raise ValueError(f"a worker cannot make a sending delivery {decision.status}")
    now = utcnow()
    values: dict[str, Any] = {
        "status": decision.status.value,
        "error_class": decision.error_class,
        "last_error": _text(decision.reason),
    }
    if outcome is not None:
        values.update(
            status_code=outcome.status_code,
            provider_message_id=_text(outcome.message_id, 255),
            maybe_delivered=outcome.maybe_delivered,
            duration_ms=round(outcome.duration_s * 1000),
        )
    if decision.status is DeliveryStatus.RETRYING:
        values["run_at"] = now + timedelta(seconds=decision.delay_s)
    else:
        values["finished_at"] = now
    if decision.status is DeliveryStatus.SENT:
        values["sent_at"] = now
    statement = _settle_statement(frozenset(values))
    params = {f"delivery_{column}_": value for column, value in values.items()}
    params.update(delivery_id_=claim.delivery_id, delivery_claim_token_=claim.token)
    if job is None:
        return bool(_execute(statement, params, durable=False).rowcount == 1)
    wrote, job.success_recorded = transitions.succeed_with(job.claim, result, statement, params)
    return wrote


def lose(delivery: DeliveryRecord, decision: Decision) -> bool:
    """End a delivery found ``sending`` whose run was lost (``failed`` or ``dead``, the
    outcome unknown): the claim named is the lost run's."""
    claim = SendClaim(delivery.id, delivery.claim_token or "", delivery.attempts)
    return settle(claim, decision, None)


def _text(value: str | None, limit: int = ERROR_LIMIT) -> str | None:
    return None if value is None else storable_text(value[:limit])


# -- the operator ----------------------------------------------------------------------------


def cancel(delivery_id: uuid.UUID) -> DeliveryRecord:
    """Cancel a delivery that has not been sent yet; its job then finds nothing to do."""
    statement = (
        update(Delivery)
        .where(Delivery.id == delivery_id, _leaving(DeliveryEvent.CANCEL, Actor.OPERATOR))
        .values(
            status=DeliveryStatus.CANCELLED.value,
            finished_at=utcnow(),
            error_class=CANCELLED,
            last_error="cancelled by an operator",
        )
    )
    if _execute(statement).rowcount != 1:
        current = get(delivery_id)
        raise DeliveryStateConflict(
            f"delivery {delivery_id} is {current.status}: only a delivery waiting to be sent "
            "(queued, scheduled or retrying) can be cancelled"
        )
    return get(delivery_id)


def replay(original: uuid.UUID, new: Delivery, carrier: NewJob) -> DeliveryRecord:
    """A new delivery of a failed, dead or cancelled one's notification to the same channel,
    linked both ways, with its job: all or none. :class:`DeliveryStateConflict` when the
    original is not replayable or was replayed already."""
    now = utcnow()
    with session_scope() as session:
        old = row_or_raise(session, Delivery, original, DeliveryNotFound, "delivery", lock=True)
        if DeliveryStatus(old.status) not in REPLAYABLE:
            raise DeliveryStateConflict(
                f"delivery {original} is {old.status}: only a failed, dead or cancelled "
                "delivery can be replayed"
            )
        if old.replayed_by is not None:
            raise DeliveryStateConflict(
                f"delivery {original} was replayed already, as delivery {old.replayed_by}"
            )
        session.add(new)
        session.flush()
        session.execute(insert(Job), [carrier.row(now)])
        for (member,) in session.execute(
            select(DigestMember.notification_id).where(DigestMember.delivery_id == original)
        ):
            session.add(DigestMember(delivery_id=new.id, notification_id=member, added_at=now))
        old.replayed_by = new.id
        session.flush()
        return DeliveryRecord.of(new)


# -- the reaper ------------------------------------------------------------------------------


def reap_orphans(limit: int = 500) -> int:
    """Fail deliveries whose job finished (or was purged) without settling them: the job died
    with its workers, or was cancelled. A delivery found ``sending`` so may have been
    delivered, and says so. Returns how many were reaped."""
    carried = select(Job.id).where(
        Job.id == Delivery.job_id, Job.status.not_in([s.value for s in FINISHED_STATUSES])
    )
    waiting = _leaving(DeliveryEvent.REAP, Actor.REAPER)
    with session_scope() as session:
        ids = list(
            session.scalars(select(Delivery.id).where(waiting, ~carried.exists()).limit(limit))
        )
        if not ids:
            return 0
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), waiting, Delivery.status == DeliveryStatus.SENDING.value)
            .values(
                status=DeliveryStatus.FAILED.value,
                finished_at=utcnow(),
                error_class=OUTCOME_UNKNOWN,
                maybe_delivered=True,
                last_error="its job ended while it was sending; it may have been delivered",
            )
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), waiting)
            .values(
                status=DeliveryStatus.FAILED.value,
                finished_at=utcnow(),
                error_class=ORPHANED,
                last_error="its job ended before it was sent; replay it to send it",
            )
        )
        return len(ids)


def purge(before: datetime, limit: int) -> int:
    """Delete up to ``limit`` finished deliveries older than ``before`` and the notifications
    left without any; returns how many deliveries went."""
    finished = [s.value for s in FINISHED]
    with session_scope() as session:
        ids = list(
            session.scalars(
                select(Delivery.id)
                .where(Delivery.status.in_(finished), Delivery.finished_at < before)
                .limit(limit)
            )
        )
        if not ids:
            return 0
        session.execute(update(Delivery).where(Delivery.replay_of.in_(ids)).values(replay_of=None))
        session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
        used = select(Delivery.id).where(Delivery.notification_id == Notification.id)
        digested = select(DigestMember.delivery_id).where(
            DigestMember.notification_id == Notification.id
        )
        session.execute(
            delete(Notification).where(
                ~used.exists(), ~digested.exists(), Notification.created_at < before
            )
        )
        return len(ids)


def count_by_status() -> dict[str, int]:
    """How many deliveries are in each status (for metrics and ``doctor``)."""
    with session_scope() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return {status: count for status, count in rows}
