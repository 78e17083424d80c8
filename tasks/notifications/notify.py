"""The one way notifications are made, by the API, the CLI, subscriptions and in-process
callers: :func:`send` checks a request, resolves its channels, records the notification with
one delivery per channel (each carried by a ``notify.deliver`` job) in one transaction, and
publishes the jobs that are due now.

A notification with a ``digest_key`` joins the open digest of its key on each channel (one
delivery, sent when the window closes), or opens one; a notification on the ``critical``
queue is never held for a digest. A request repeated with its idempotency key returns the
notification it made (``created`` false); the same key with another request is a conflict.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tasks.jobs.producer import JobRequest, prepare
from tasks.notifications import deliveries
from tasks.notifications.catalog import NOTIFY_DELIVER
from tasks.notifications.deliveries import DeliveryRecord, DigestClosed, DigestJoin
from tasks.notifications.errors import (
    ChannelNotAllowed,
    DeliveryStateConflict,
    InvalidNotification,
    InvalidTemplate,
    TemplateNotFound,
)
from tasks.notifications.states import DeliveryStatus
from tasks.notifications.template_store import find_template
from tasks.notifications.templates import check_data
from workers.errors import IdempotencyConflict, InvalidJob, TaskyardError
from workers.messages import Message
from workers.names import is_name
from workers.publisher import publish
from workers.queues import QueueName
from workers.scopes import notify_scope_for
from workers.settings import get_settings
from workers.storable import Unstorable, check_text
from workers.store import transitions
from workers.store.engine import session_scope
from workers.store.jobs import NewJob
from workers.store.models import Channel, Delivery, DigestMember, Notification
from workers.store.types import utcnow

log = logging.getLogger(__name__)

MAX_CHANNELS = 50
MAX_SUBJECT = 998  # the longest line RFC 5322 allows
MAX_BODY = 1_000_000
MAX_DIGEST_WINDOW_S = 86_400
#: How many times a notification retries joining a digest that closed under it.
_DIGEST_RACES = 3


@dataclass(frozen=True)
class NotificationRequest:
    """What a caller asks for. ``channels`` is a list of names, or one glob over the names
    (``"ops-*"``); ``None`` takes the template's default channels. The message is a stored
    ``template`` rendered against ``data`` at send time, or a literal ``subject`` and
    ``text`` (and optional ``html``)."""

    channels: tuple[str, ...] | str | None = None
    template: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    priority: int | None = None
    queue: str | None = None
    delay_s: float | None = None
    run_at: datetime | None = None
    digest_key: str | None = None
    digest_window_s: int | None = None


@dataclass(frozen=True)
class NotificationRecord:
    """A notification as recorded."""

    id: uuid.UUID
    template: str | None
    subject: str | None
    queue: str
    priority: int
    idempotency_key: str | None
    digest_key: str | None
    source: str
    created_at: datetime

    @classmethod
    def of(cls, row: Notification) -> NotificationRecord:
        """The record of an ORM row."""
        return cls(row.id, row.template_name, row.subject, row.queue, row.priority,
                   row.idempotency_key, row.digest_key, row.source, row.created_at)  # fmt: skip


@dataclass(frozen=True)
class Sent:
    """What :func:`send` made (or found, when ``created`` is false): the notification and
    its deliveries, one per channel (a digest's delivery is shared with its other members)."""

    notification: NotificationRecord
    deliveries: list[DeliveryRecord]
    created: bool


def _invalid(field_name: str, message: str) -> InvalidNotification:
    return InvalidNotification(
        f"{field_name}: {message}", [{"field": field_name, "message": message}]
    )


def _check(request: NotificationRequest) -> dict[str, Any]:
    """Refuse a malformed request; the data, checked."""
    if request.template is not None:
        if request.subject is not None or request.text is not None or request.html is not None:
            raise _invalid("template", "give a template or a subject and text, not both")
        if not is_name(request.template):
            raise _invalid("template", f"{request.template[:200]!r} is not a template name")
    elif request.subject is None or request.text is None:
        raise _invalid("subject", "give a template, or a subject and a text")
    else:
        if not request.subject.strip() or "\n" in request.subject or "\r" in request.subject:
            raise _invalid("subject", "must be one line, not blank")
    texts = {"subject": (request.subject, MAX_SUBJECT), "text": (request.text, MAX_BODY),
             "html": (request.html, MAX_BODY), "idempotency_key": (request.idempotency_key, 200),
             "digest_key": (request.digest_key, 200)}  # fmt: skip
    try:
        for name, (value, limit) in texts.items():
            check_text(name, value, limit)
    except Unstorable as error:
        raise _invalid(error.where, error.message) from None
    if (request.digest_key is None) != (request.digest_window_s is None):
        raise _invalid("digest_key", "give digest_key and digest_window_s together")
    window = request.digest_window_s
    if window is not None and not 1 <= window <= MAX_DIGEST_WINDOW_S:
        raise _invalid("digest_window_s", f"must be between 1 and {MAX_DIGEST_WINDOW_S}")
    try:
        return check_data("data", request.data)
    except InvalidTemplate as error:
        raise InvalidNotification(error.message, error.details) from None


def _template_channels(request: NotificationRequest) -> tuple[str, ...]:
    if request.template is None:
        return ()
    try:
        return tuple(find_template(request.template).default_channels)
    except TemplateNotFound:
        raise _invalid("template", f"no template named {request.template!r}") from None


def resolve_channels(request: NotificationRequest) -> list[tuple[uuid.UUID, str]]:
    """The channels (id, name) ``request`` goes to, in name order; :class:`InvalidNotification`
    when it names none, a channel or a template that does not exist, or a glob that matches
    none."""
    defaults = _template_channels(request)  # a template named must exist, channels given or not
    asked = request.channels
    if asked is None:
        asked = defaults
        if not asked:
            raise _invalid("channels", "name channels (or a template with default channels)")
    with session_scope() as session:
        known = {name: key for name, key in session.execute(select(Channel.name, Channel.id))}
    if isinstance(asked, str):
        names = sorted(name for name in known if fnmatchcase(name, asked))
        if not names:
            raise _invalid("channels", f"no channel matches {asked[:200]!r}")
    else:
        if not asked or len(asked) > MAX_CHANNELS:
            raise _invalid("channels", f"name between 1 and {MAX_CHANNELS} channels")
        missing = sorted({name for name in asked if name not in known})
        if missing:
            shown = ", ".join(repr(name[:200]) for name in missing[:5])
            raise _invalid("channels", f"no channel named {shown}; `taskyard channels list`")
        names = sorted(set(asked))
    return [(known[name], name) for name in names]


def _fingerprint(request: NotificationRequest, channels: Sequence[str], data: Any) -> str:
    asked = {**asdict(request), "channels": list(channels), "data": data}
    asked.pop("idempotency_key")
    canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def send(
    request: NotificationRequest,
    *,
    source: str = "api",
    api_key_id: uuid.UUID | None = None,
    subscription_id: uuid.UUID | None = None,
    scope: str | None = None,
    may_use: Callable[[str], bool] | None = None,
) -> Sent:
    """Record ``request`` as a notification with one delivery per channel and publish those
    due now. ``scope`` names whose idempotency keys these are (an API key's id by default);
    ``may_use`` refuses a channel the caller may not send to (:class:`ChannelNotAllowed`)."""
    data = _check(request)
    if may_use is not None and isinstance(request.channels, tuple):
        _refuse_unless_allowed(request.channels, may_use)  # before telling whether they exist
    channels = resolve_channels(request)
    if may_use is not None:
        _refuse_unless_allowed([name for _, name in channels], may_use)
    scope = scope or (str(api_key_id) if api_key_id else "internal")
    request_hash = _fingerprint(request, [name for _, name in channels], data)
    if request.idempotency_key is not None:
        found = _existing(scope, request.idempotency_key, request_hash)
        if found is not None:
            return found
    for _ in range(_DIGEST_RACES):
        try:
            return _record(request, data, channels, source, api_key_id, subscription_id,
                           scope, request_hash)  # fmt: skip
        except (DigestClosed, IntegrityError) as error:
            if request.idempotency_key is not None:
                found = _existing(scope, request.idempotency_key, request_hash)
                if found is not None:  # the same request, made at the same time
                    return found
            race = {"action": "notification.digest_race", "error": type(error).__name__}
            log.info("notification.digest_race", extra=race)
    raise TaskyardError("the notification's digest kept closing under it; try again")


def _refuse_unless_allowed(names: Sequence[str], may_use: Callable[[str], bool]) -> None:
    """:class:`ChannelNotAllowed` naming the scope the first channel ``may_use`` refuses needs."""
    refused = [name for name in names if not may_use(name)]
    if refused:
        scope_needed = notify_scope_for(refused[0])
        raise ChannelNotAllowed(
            f"this API key may not send to channel {refused[0][:200]!r}: it lacks the scope "
            f"{scope_needed[:250]} (or notifications:write)",
            {"scope": scope_needed},
        )


def _existing(scope: str, key: str, request_hash: str) -> Sent | None:
    with session_scope() as session:
        row = session.scalar(
            select(Notification).where(
                Notification.idempotency_scope == scope, Notification.idempotency_key == key
            )
        )
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise IdempotencyConflict(
                f"idempotency key {key[:200]!r} was used for another notification; "
                "use a new key for a different request"
            )
        rows = session.scalars(select(Delivery).where(Delivery.notification_id == row.id))
        records = [DeliveryRecord.of(delivery) for delivery in rows]
        return Sent(NotificationRecord.of(row), records + _joined(row.id), created=False)


def _joined(notification_id: uuid.UUID) -> list[DeliveryRecord]:
    with session_scope() as session:
        rows = session.scalars(
            select(Delivery)
            .join(DigestMember, DigestMember.delivery_id == Delivery.id)
            .where(
                DigestMember.notification_id == notification_id,
                Delivery.notification_id != notification_id,
            )
        )
        return [DeliveryRecord.of(row) for row in rows]


def carrier(delivery_id: uuid.UUID, queue: str, priority: int, run_at: datetime | None) -> NewJob:
    """The ``notify.deliver`` job that carries a delivery (validated as any job is)."""
    job = JobRequest(type=NOTIFY_DELIVER.name, payload={"delivery_id": str(delivery_id)},
                     queue=queue, priority=priority)  # fmt: skip
    try:
        new = prepare(job, internal=True).new
    except InvalidJob as error:
        raise _invalid("queue", error.message) from None
    return NewJob(**{**vars(new), "run_at": run_at})


def _timing(request: NotificationRequest) -> tuple[str, int, datetime | None]:
    """The queue, priority and send time (``None``: now) a request resolves to."""
    job = JobRequest(type=NOTIFY_DELIVER.name, payload={"delivery_id": str(uuid.uuid4())},
                     queue=request.queue, priority=request.priority, delay_s=request.delay_s,
                     run_at=request.run_at)  # fmt: skip
    try:
        new = prepare(job, internal=True).new
    except InvalidJob as error:
        raise InvalidNotification(error.message, error.details) from None
    return new.queue, new.priority, new.run_at


def _record(
    request: NotificationRequest,
    data: dict[str, Any],
    channels: list[tuple[uuid.UUID, str]],
    source: str,
    api_key_id: uuid.UUID | None,
    subscription_id: uuid.UUID | None,
    scope: str,
    request_hash: str,
) -> Sent:
    queue, priority, run_at = _timing(request)
    now = utcnow()
    notification = Notification(
        id=uuid.uuid4(), template_name=request.template, subject=request.subject,
        text=request.text, html=request.html, data=data, queue=queue, priority=priority,
        idempotency_scope=scope, idempotency_key=request.idempotency_key,
        request_hash=request_hash, digest_key=request.digest_key,
        digest_window_s=request.digest_window_s, api_key_id=api_key_id,
        subscription_id=subscription_id, source=source, created_at=now,
    )  # fmt: skip
    digest = request.digest_key if queue != QueueName.CRITICAL.value else None
    new: list[Delivery] = []
    joins: list[DigestJoin] = []
    carriers: list[NewJob] = []
    for channel_id, name in channels:
        if digest is not None:
            open_id = deliveries.open_digest(digest, name)
            if open_id is not None:
                joins.append(DigestJoin(open_id, notification.id))
                continue
            window_end = now + timedelta(seconds=request.digest_window_s or 0)
            due: datetime | None = max(run_at or now, window_end)
        else:
            due = run_at
        delivery_id = uuid.uuid4()
        job = carrier(delivery_id, queue, priority, due)
        carriers.append(job)
        status = DeliveryStatus.SCHEDULED if due is not None else DeliveryStatus.QUEUED
        new.append(Delivery(
            id=delivery_id, notification_id=notification.id, channel_id=channel_id,
            channel_name=name, status=status.value, job_id=job.id, queue=queue,
            priority=priority, attempts=0, max_attempts=get_settings().notify_max_attempts,
            message_key=delivery_id.hex, digest_key=digest, run_at=due, created_at=now,
            maybe_delivered=False,
        ))  # fmt: skip
    deliveries.record(notification, new, carriers, joins)
    publish_carriers(carriers)
    records = [DeliveryRecord.of(row) for row in new]
    records += [deliveries.get(join.delivery_id) for join in joins]
    return Sent(NotificationRecord.of(notification), records, created=True)


def publish_carriers(carriers: Sequence[NewJob]) -> None:
    """Publish the jobs due now and have them confirmed. A broker that refuses them loses
    nothing: they are recorded ``dispatching``, and the dispatcher publishes them later."""
    ready = [job for job in carriers if job.run_at is None]
    if not ready:
        return
    messages = [Message(str(job.id), job.type, job.payload, job.queue, job.priority)
                for job in ready]  # fmt: skip
    try:
        publish(messages)
    except TaskyardError as error:
        log.warning("notification.publish_deferred", extra={
            "action": "notification.publish_deferred", "jobs": len(ready), "error": error.message,
        })  # fmt: skip
        return
    transitions.confirm_queued([job.id for job in ready])


def replay(delivery_id: uuid.UUID) -> DeliveryRecord:
    """Send a failed, dead or cancelled delivery again as a new delivery (``queued`` now, on
    the original's queue and priority, linked both ways) and publish its job.
    :class:`DeliveryNotFound`, or :class:`DeliveryStateConflict` when the original is not
    replayable, was replayed already, or its channel is gone.

    The replay carries the original's message key, so a receiver that keeps the keys it saw
    recognises it as the same message when the original did arrive (``maybe_delivered``)."""
    original = deliveries.get(delivery_id)
    if original.channel_id is None:
        raise DeliveryStateConflict(
            f"delivery {delivery_id}'s channel {original.channel_name!r} no longer exists; "
            "send the notification again to a channel that does"
        )
    new_id = uuid.uuid4()
    job = carrier(new_id, original.queue, original.priority, None)
    row = Delivery(
        id=new_id, notification_id=original.notification_id, channel_id=original.channel_id,
        channel_name=original.channel_name, status=DeliveryStatus.QUEUED.value, job_id=job.id,
        queue=original.queue, priority=original.priority, attempts=0,
        max_attempts=get_settings().notify_max_attempts, message_key=original.message_key,
        digest_key=None, run_at=None, created_at=utcnow(), maybe_delivered=False,
        replay_of=original.id,
    )  # fmt: skip
    record = deliveries.replay(original.id, row, job)
    publish_carriers([job])
    log.info("delivery.replayed", extra={"action": "delivery.replayed",
             "delivery_id": str(new_id), "replay_of": str(original.id),
             "channel": original.channel_name})  # fmt: skip
    return record
