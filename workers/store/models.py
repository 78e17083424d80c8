"""Tables of the store: jobs with their idempotency and unique keys, API keys, schedules with
their fires, maintenance runs, and notifications (templates, channels, notifications, their
deliveries and digest members, subscriptions), and alert rules with their instances and
events, the routes, groups, silences and inhibit rules their notices pass through."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from workers.states import Actor, TableStates, Transition, TransitionTable
from workers.store.types import JsonDocument, UtcDateTime, partial_where, utcnow


class JobStatus(TableStates):
    """Where a job is in its life; the moves between statuses are :data:`TRANSITIONS`."""

    SCHEDULED = "scheduled"
    DISPATCHING = "dispatching"
    QUEUED = "queued"
    STARTED = "started"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def in_words(self) -> str:
        """The status as a sentence about a job says it: ``job 42 has succeeded``."""
        return _IN_WORDS[self]


class JobEvent(StrEnum):
    """What happens to a job; the label of its arrow in the state diagram."""

    ENQUEUE = "enqueue"
    CONFIRM = "confirm"
    CLAIM = "claim"
    RECLAIM = "reclaim"
    REPUBLISH = "republish"
    RELEASE = "release"
    REFUSE = "refuse"
    START = "start"
    TAKE_OVER = "take_over"
    SUCCEED = "succeed"
    RETRY = "retry"
    DEFER = "defer"
    FAIL = "fail"
    EXHAUST = "exhaust"
    CANCEL = "cancel"
    REAP = "reap"


_S, _E, _A = JobStatus, JobEvent, Actor
#: Every move a job may make, and who makes it. ``workers.store.transitions`` makes them all
#: (the producer's insert aside) and derives its guards from here; ``docs/architecture.md``
#: draws the same table, which ``tests/unit/test_transitions.py`` holds equal to this one.
TRANSITIONS = TransitionTable(
    JobStatus,
    (
        Transition(source, target, event, actor)
        for source, target, event, actor in (
            (None, _S.DISPATCHING, _E.ENQUEUE, _A.PRODUCER),
            (None, _S.SCHEDULED, _E.ENQUEUE, _A.PRODUCER),
            (_S.DISPATCHING, _S.QUEUED, _E.CONFIRM, _A.PRODUCER),
            (_S.DISPATCHING, _S.QUEUED, _E.CONFIRM, _A.DISPATCHER),
            (_S.SCHEDULED, _S.DISPATCHING, _E.CLAIM, _A.DISPATCHER),
            (_S.RETRYING, _S.DISPATCHING, _E.CLAIM, _A.DISPATCHER),
            (_S.DISPATCHING, _S.DISPATCHING, _E.RECLAIM, _A.DISPATCHER),
            (_S.QUEUED, _S.DISPATCHING, _E.REPUBLISH, _A.DISPATCHER),
            (_S.DISPATCHING, _S.SCHEDULED, _E.RELEASE, _A.DISPATCHER),
            (_S.DISPATCHING, _S.FAILED, _E.REFUSE, _A.DISPATCHER),
            (_S.QUEUED, _S.STARTED, _E.START, _A.WORKER),
            (_S.DISPATCHING, _S.STARTED, _E.START, _A.WORKER),
            (_S.STARTED, _S.STARTED, _E.TAKE_OVER, _A.WORKER),
            (_S.STARTED, _S.SUCCEEDED, _E.SUCCEED, _A.WORKER),
            (_S.STARTED, _S.RETRYING, _E.RETRY, _A.WORKER),
            (_S.STARTED, _S.SCHEDULED, _E.DEFER, _A.WORKER),
            (_S.STARTED, _S.FAILED, _E.FAIL, _A.WORKER),
            (_S.STARTED, _S.DEAD, _E.EXHAUST, _A.WORKER),
            (_S.STARTED, _S.CANCELLED, _E.CANCEL, _A.WORKER),
            (_S.STARTED, _S.RETRYING, _E.REAP, _A.REAPER),
            (_S.STARTED, _S.DEAD, _E.REAP, _A.REAPER),
            (_S.SCHEDULED, _S.CANCELLED, _E.CANCEL, _A.OPERATOR),
            (_S.DISPATCHING, _S.CANCELLED, _E.CANCEL, _A.OPERATOR),
            (_S.QUEUED, _S.CANCELLED, _E.CANCEL, _A.OPERATOR),
            (_S.RETRYING, _S.CANCELLED, _E.CANCEL, _A.OPERATOR),
        )
    ),
)
#: Final: no transition leaves them.
FINISHED_STATUSES = TRANSITIONS.finished
#: What an operator may replay as a new job: finished, but not successfully.
REPLAYABLE_STATUSES = FINISHED_STATUSES - {JobStatus.SUCCEEDED}

_IN_WORDS = {
    JobStatus.SCHEDULED: "is scheduled", JobStatus.DISPATCHING: "is being dispatched",
    JobStatus.QUEUED: "is queued", JobStatus.STARTED: "has started",
    JobStatus.RETRYING: "is waiting to be retried", JobStatus.SUCCEEDED: "has succeeded",
    JobStatus.FAILED: "has failed", JobStatus.DEAD: "is dead",
    JobStatus.CANCELLED: "was cancelled",
}  # fmt: skip


class Base(DeclarativeBase):
    """Declarative base with the shared column types."""

    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JsonDocument}


class ApiKey(Base):
    """A producer API key; only its SHA-256 hash is stored, never the key."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    #: The client address of the last use (written with ``last_used_at``).
    last_client: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    #: A ``limits`` rate such as ``100/second``; ``None``: the API's default.
    rate_limit: Mapped[str | None] = mapped_column(String(64))
    #: The secret replaced by the last rotation, valid until ``previous_expires_at``.
    previous_key_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    previous_key_prefix: Mapped[str | None] = mapped_column(String(16))
    previous_expires_at: Mapped[datetime | None]
    previous_last_used_at: Mapped[datetime | None]


class Job(Base):
    """The record of one job: the source of truth for its status."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_created", "created_at", "id"),
        Index("ix_jobs_status_created", "status", "created_at"),
        Index("ix_jobs_type_created", "type", "created_at"),
        # Partial indexes: a job's row leaves them as soon as it moves on, so the status
        # changes of the hot path (dispatching, queued, started, succeeded) do not feed them.
        Index("ix_jobs_due", "run_at", **partial_where("status IN ('scheduled', 'retrying')")),
        Index("ix_jobs_dispatching", "dispatched_at", **partial_where("status = 'dispatching'")),
        Index("ix_jobs_heartbeat", "heartbeat_at", **partial_where("status = 'started'")),
        Index("ix_jobs_replay_of", "replay_of", **partial_where("replay_of IS NOT NULL")),
        # The subscription sweep's read of job.failed and job.dead events: rows enter only when
        # a job fails, so the hot path never feeds it.
        Index(
            "ix_jobs_failed_finished",
            "finished_at",
            **partial_where("status IN ('failed', 'dead')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[Any | None] = mapped_column(JsonDocument)
    error_type: Mapped[str | None] = mapped_column(String(255))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    run_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    progress: Mapped[int | None] = mapped_column(SmallInteger)
    progress_message: Mapped[str | None] = mapped_column(String(200))
    cancel_requested_at: Mapped[datetime | None]
    timed_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    replay_of: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="SET NULL", name="fk_jobs_replay_of")
    )
    replayed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    concurrency_key: Mapped[str | None] = mapped_column(String(200))
    max_attempts: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    #: Set by each start; a start retried after a lost reply recognises its own claim.
    claim_token: Mapped[str | None] = mapped_column(String(32))


def _owning_job() -> Mapped[uuid.UUID]:
    """The job a key row belongs to; the row goes when the job is purged."""
    return mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"), index=True)


class IdempotencyKey(Base):
    """A caller's idempotency key: the job it created and a hash of the request, until expiry."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    job_id: Mapped[uuid.UUID] = _owning_job()
    request_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class UniqueJob(Base):
    """The job holding a (type, unique key) while it is open, until ``expires_at`` at most."""

    __tablename__ = "unique_jobs"

    type: Mapped[str] = mapped_column(String(200), primary_key=True)
    unique_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    job_id: Mapped[uuid.UUID] = _owning_job()
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ScheduleKind(StrEnum):
    """How a schedule's slots are computed."""

    CRON = "cron"
    INTERVAL = "interval"


class MissedRunPolicy(StrEnum):
    """What beat does with slots missed while no beat was leading."""

    SKIP = "skip"
    CATCH_UP = "catch_up"


class Schedule(Base):
    """A beat entry: static ones are synced from ``schedules/`` data, dynamic ones edited via
    the API or CLI. ``task`` is a job type or an internal task name (``maintenance.*``)."""

    __tablename__ = "schedules"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    task: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    cron: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    interval_s: Mapped[int | None]
    queue: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int | None] = mapped_column(SmallInteger)
    args: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    expires_s: Mapped[int | None]
    missed: Mapped[str] = mapped_column(String(16), default=MissedRunPolicy.SKIP.value)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    static: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_run_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None]


class ScheduleFire(Base):
    """One fired slot; unique per (schedule, planned time), so no slot fires twice."""

    __tablename__ = "schedule_fires"
    __table_args__ = (
        UniqueConstraint("schedule_id", "planned_at", name="uq_schedule_fires_slot"),
        Index("ix_schedule_fires_fired", "fired_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    schedule_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("schedules.id", ondelete="CASCADE")
    )
    planned_at: Mapped[datetime]
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    job_id: Mapped[str | None] = mapped_column(String(64))
    beat: Mapped[str | None] = mapped_column(String(255))


class MaintenanceRun(Base):
    """One run of a maintenance task, with its outcome and figures (rows deleted, bytes...)."""

    __tablename__ = "maintenance_runs"
    __table_args__ = (Index("ix_maintenance_runs_name_started", "name", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16))
    figures: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class Template(Base):
    """A notification template: Jinja2 sources of a subject, a text body and an optional HTML
    body, checked against its sample data whenever it is saved."""

    __tablename__ = "templates"
    __table_args__ = (Index("ix_templates_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    sample_data: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    #: Channel names a notification naming this template goes to when it names none.
    default_channels: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Channel(Base):
    """Where notifications go: a kind, its public settings, and its secrets, sealed with
    ``TASKYARD_SECRET_KEYS`` when set (``sealed``), else kept as plain JSON text."""

    __tablename__ = "channels"
    __table_args__ = (Index("ix_channels_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    secret_config: Mapped[str] = mapped_column(Text)
    sealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Notification(Base):
    """A message asked for (by the API, the CLI or a subscription): what to say, to whom is
    its deliveries (one per channel)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_created", "created_at", "id"),
        # One notification per caller and key: scope is the API key's id, "internal", or
        # "subscription:<id>" for the notifications a subscription makes.
        Index(
            "ux_notifications_idempotency",
            "idempotency_scope",
            "idempotency_key",
            unique=True,
            **partial_where("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    template_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    queue: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(SmallInteger)
    idempotency_scope: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    digest_key: Mapped[str | None] = mapped_column(String(200))
    digest_window_s: Mapped[int | None]
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    #: What made it: ``api``, ``cli``, ``subscription``, ``replay`` or ``alert``.
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One notification (or a digest of several) through one channel: the record that is
    claimed before a send, so nothing is sent twice. Its job (``notify.deliver``) carries it
    through the queues; every status change is in ``tasks/notifications/deliveries.py``."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_created", "created_at", "id"),
        Index("ix_deliveries_status_created", "status", "created_at"),
        Index("ix_deliveries_channel_created", "channel_name", "created_at"),
        Index("ix_deliveries_job", "job_id"),
        Index("ix_deliveries_finished", "finished_at"),
        # The open digest a new notification with this key and channel joins: one at most.
        Index(
            "ux_deliveries_open_digest",
            "digest_key",
            "channel_name",
            unique=True,
            **partial_where(
                "digest_key IS NOT NULL AND status = 'scheduled' AND sending_at IS NULL"
            ),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("channels.id", ondelete="SET NULL")
    )
    channel_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    #: The job carrying this delivery through the queues (replaced by none: a replay makes a
    #: new delivery and a new job).
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    queue: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(SmallInteger)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(SmallInteger)
    #: The key a provider recognises a repeat by (webhook ``Idempotency-Key``, email
    #: ``Message-ID``): the same on every attempt of this delivery.
    message_key: Mapped[str] = mapped_column(String(64))
    digest_key: Mapped[str | None] = mapped_column(String(200))
    run_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    error_class: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    status_code: Mapped[int | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    maybe_delivered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    duration_ms: Mapped[int | None]
    replay_of: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("deliveries.id", ondelete="SET NULL", name="fk_deliveries_replay_of")
    )
    replayed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class DigestMember(Base):
    """A notification folded into a digest delivery (the delivery's own notification is its
    first member)."""

    __tablename__ = "digest_members"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    notification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    """Turns platform events (``job.dead`` and the rest) into notifications, once per event."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    #: Which job types (or maintenance tasks, or schedules) it listens to: a glob.
    match: Mapped[str] = mapped_column(String(200), default="*")
    channels: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    template_name: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: Events up to this time have been turned into notifications.
    scanned_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertRule(Base):
    """An alert rule: a source read every ``interval_s``, a condition, timers and where its
    notices go. ``generation`` counts the edits that reset its instances (a new source, op,
    thresholds or labels); ``last_slot_at`` is the newest slot evaluated, advanced by a
    compare-and-set so that each slot is evaluated once (``tasks/alerts/evaluation.py``)."""

    __tablename__ = "alert_rules"
    __table_args__ = (Index("ix_alert_rules_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float]
    recovery_threshold: Mapped[float | None]
    for_s: Mapped[int] = mapped_column(default=0)
    keep_firing_for_s: Mapped[int] = mapped_column(default=0)
    labels: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    severity: Mapped[str] = mapped_column(String(16))
    annotations: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    interval_s: Mapped[int]
    no_data: Mapped[str] = mapped_column(String(16))
    on_error: Mapped[str] = mapped_column(String(16))
    channels: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    generation: Mapped[int] = mapped_column(default=1, server_default="1")
    last_slot_at: Mapped[datetime | None]
    last_evaluated_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertInstance(Base):
    """A rule and one set of final labels: its state and the times its timers run from, all
    slot times (``tasks/alerts/states.py`` has the moves; ``instances.py`` makes them)."""

    __tablename__ = "alert_instances"
    __table_args__ = (
        UniqueConstraint("rule_id", "fingerprint", name="uq_alert_instances_labels"),
        Index("ix_alert_instances_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    rule_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_rules.id", ondelete="CASCADE")
    )
    #: SHA-256 of the final labels as canonical JSON: the instance's identity within its rule.
    fingerprint: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    state: Mapped[str] = mapped_column(String(16))
    #: When the current state began (the slot of the transition into it).
    since: Mapped[datetime]
    #: When it last began firing (kept through ``recovering`` and a flap back to ``firing``).
    fired_at: Mapped[datetime | None]
    last_value: Mapped[float | None]
    last_evaluated_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertEventRow(Base):
    """One transition of an instance, written in the transaction that made it. A transition
    that notifies (``notice`` FIRING or RESOLVED) is an outbox entry until ``notified_at``:
    its notification is sent with the key ``alert:<instance id>:<event id>``."""

    __tablename__ = "alert_events"
    __table_args__ = (
        Index("ix_alert_events_instance_at", "instance_id", "at"),
        Index("ix_alert_events_created", "created_at", "id"),
        # The outbox: events that owe a notice not yet sent.
        Index(
            "ix_alert_events_unsent",
            "created_at",
            **partial_where("notice IS NOT NULL AND notified_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    instance_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_instances.id", ondelete="CASCADE")
    )
    rule_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(16))
    source_state: Mapped[str] = mapped_column(String(16))
    target_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(16))
    #: The slot (or, for an operator's reset, the time) of the transition.
    at: Mapped[datetime]
    value: Mapped[float | None]
    notice: Mapped[str | None] = mapped_column(String(16))
    notified_at: Mapped[datetime | None]
    notification_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    notice_error: Mapped[str | None] = mapped_column(Text)
    #: The routes whose groups took the notice instead (none: it went to the rule's channels).
    routes: Mapped[list[str] | None] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertRoute(Base):
    """A node of the alert route tree: matchers, the channels its groups notify, and how it
    groups and paces them (``tasks/alerts/grouping.py``). ``parent_id`` ``None``: a child of
    the implicit root; siblings are tried in ``position`` order."""

    __tablename__ = "alert_routes"
    __table_args__ = (Index("ix_alert_routes_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("alert_routes.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    matchers: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    channels: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    group_by: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    group_wait_s: Mapped[int]
    group_interval_s: Mapped[int]
    repeat_interval_s: Mapped[int]
    send_resolved: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    continues: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InhibitRule(Base):
    """Firing alerts passing ``source_matchers`` mute the alerts passing ``target_matchers``
    that share their values of the ``equal`` labels."""

    __tablename__ = "inhibit_rules"
    __table_args__ = (Index("ix_inhibit_rules_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_matchers: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    target_matchers: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    equal: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SilenceRow(Base):
    """A silence: the alerts its matchers pass are muted from ``starts_at`` until
    ``ends_at`` (expiring one sets ``ends_at`` to the moment)."""

    __tablename__ = "silences"
    __table_args__ = (
        Index("ix_silences_created", "created_at", "id"),
        Index("ix_silences_ends", "ends_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    matchers: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertGroup(Base):
    """One group of one route and its notification log: the alerts it last sent as firing,
    when, and when it first saw a firing alert it had not sent. ``seq`` counts its writes;
    every write is a compare-and-set on it, so two evaluators flushing at once write once."""

    __tablename__ = "alert_groups"
    __table_args__ = (UniqueConstraint("route_id", "group_key", name="uq_alert_groups_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    route_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_routes.id", ondelete="CASCADE")
    )
    group_key: Mapped[str] = mapped_column(String(64))
    group_labels: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    firing: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    sent_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime | None]
    seq: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


_UNSENT_GROUP = "notified_at IS NULL"


class AlertGroupNotice(Base):
    """What one flush of a group owes (an outbox entry until ``notified_at``), sent with the
    key ``alert-group:<group id>:<seq>``: the alerts firing and resolved, as shown."""

    __tablename__ = "alert_group_notices"
    __table_args__ = (
        UniqueConstraint("group_id", "seq", name="uq_alert_group_notices_seq"),
        Index(
            "ix_alert_group_notices_unsent", "created_at", **partial_where("notified_at IS NULL")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    group_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_groups.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    firing: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    resolved: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    notified_at: Mapped[datetime | None]
    notification_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    notice_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceivedAlert(Base):
    """An alert a Prometheus server (or any Alertmanager client) posted to
    ``POST /api/v2/alerts``: one per set of labels, the last post's times kept. A rule with
    the ``alertmanager`` source reads the ones active at its slot (``tasks/alerts/received.py``)."""

    __tablename__ = "received_alerts"
    __table_args__ = (Index("ix_received_alerts_ends_at", "ends_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: SHA-256 of the labels as canonical JSON (``tasks.alerts.instances.fingerprint``).
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    starts_at: Mapped[datetime]
    #: Past it the alert is resolved: the post's ``endsAt``, else its time plus the resolve
    #: timeout (``TASKYARD_ALERTS_RESOLVE_TIMEOUT_S``).
    ends_at: Mapped[datetime]
    generator_url: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
