"""Request and response bodies of ``/v1/alert-rules`` and ``/v1/alerts``, and the
record-to-JSON mapping. The checks that name a rule's field (a finite threshold, one read-only
SELECT, annotations that render, channels that exist) are ``tasks.alerts.rules.check_rule``'s,
so the API and the CLI refuse the same rules with the same words."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from api.resources import Page, PatchBody, RecordOut, same_named
from tasks.alerts.decision import Op, Policy
from tasks.alerts.instances import InstanceRecord
from tasks.alerts.matchers import LABEL_NAME
from tasks.alerts.routing import Muting
from tasks.alerts.rules import MAX_CHANNELS, RuleSpec, Severity
from tasks.alerts.sources import SourceKind
from tasks.alerts.states import AlertState
from workers.names import NAME_PATTERN
from workers.storable import Unstorable, check_document
from workers.store.models import AlertEventRow
from workers.timestamps import Rfc3339

_SPEC = (
    "The source's settings: `queue` (queue_depth, oldest_queued_age, canary_latency); "
    "`window_s`, `job_type`, `min_finished` (failure_ratio, job_duration_p95); `window_s`, "
    "`job_type` (dead_jobs); `window_s`, `channel` (deliveries_failing); `profiles` "
    "(workers_alive: the profiles expected to answer); `query` (sql: one read-only SELECT with "
    "a `value` column, the others are labels; `:slot_at` binds the slot's time); `query`, "
    "`url`, `timeout_s` (promql: an instant query, asked of the server when saved); "
    "`matchers` (alertmanager: the labels a received alert must have)."
)
_THRESHOLD = "A finite number the value is compared with (`op`)."
_RECOVERY = "A firing alert stays firing until the value no longer passes this (optional)."
_ANNOTATIONS = (
    "`summary` and `description` templates (sandboxed Jinja2) over `rule`, `labels`, `value`, "
    "`state`, `op`, `threshold`, `severity` and `annotations` (those received with an alert "
    "through the Alertmanager door)."
)
_POLICY = "`ok` (false), `alerting` (true) or `keep_last` (no change)."
_CHANNELS = "Notification channels the FIRING and RESOLVED notices go to."


class AlertRuleIn(BaseModel):
    """An alert rule."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN.pattern)
    source: SourceKind
    spec: dict[str, Any] = Field(default_factory=dict, description=_SPEC)
    op: Op
    threshold: float = Field(strict=True, allow_inf_nan=False, description=_THRESHOLD)
    recovery_threshold: float | None = Field(
        default=None, strict=True, allow_inf_nan=False, description=_RECOVERY
    )
    for_s: int = Field(default=0, strict=True, description="True this long before firing.")
    keep_firing_for_s: int = Field(
        default=0, strict=True, description="False this long before RESOLVED."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    severity: Severity = Severity.WARNING
    annotations: dict[str, str] = Field(default_factory=dict, description=_ANNOTATIONS)
    interval_s: int = Field(default=60, strict=True, description="A multiple of 10 s.")
    no_data: Policy = Field(default=Policy.OK, description=_POLICY)
    on_error: Policy = Field(default=Policy.KEEP_LAST, description=_POLICY)
    channels: list[str] = Field(default_factory=list, max_length=MAX_CHANNELS,
                                description=_CHANNELS)  # fmt: skip
    paused: StrictBool = False

    def to_spec(self) -> RuleSpec:
        """The rule this body describes (validated further by the store)."""
        fields = self.model_dump()
        fields["channels"] = tuple(self.channels)
        if not self.annotations:
            fields.pop("annotations")
        return RuleSpec(**fields)


class AlertRulePatch(PatchBody):
    """Fields to change; absent ones stay. `{"paused": true}` pauses, `false` resumes. A new
    source, spec, op, threshold or labels resets the rule's alerts (a RESOLVED for those
    firing); other edits keep them. `null` clears `recovery_threshold`."""

    not_null = ("source", "spec", "op", "threshold", "for_s", "keep_firing_for_s", "labels",
                "severity", "annotations", "interval_s", "no_data", "on_error", "channels",
                "paused")  # fmt: skip
    source: SourceKind | None = None
    spec: dict[str, Any] | None = Field(default=None, description=_SPEC)
    op: Op | None = None
    threshold: float | None = Field(
        default=None, strict=True, allow_inf_nan=False, description=_THRESHOLD
    )
    recovery_threshold: float | None = Field(
        default=None, strict=True, allow_inf_nan=False, description=_RECOVERY
    )
    for_s: int | None = Field(default=None, strict=True)
    keep_firing_for_s: int | None = Field(default=None, strict=True)
    labels: dict[str, str] | None = None
    severity: Severity | None = None
    annotations: dict[str, str] | None = Field(default=None, description=_ANNOTATIONS)
    interval_s: int | None = Field(default=None, strict=True)
    no_data: Policy | None = None
    on_error: Policy | None = None
    channels: list[str] | None = Field(default=None, max_length=MAX_CHANNELS)
    paused: StrictBool | None = Field(default=None, description="Pause (true) or resume.")

    def changes(self) -> dict[str, Any]:
        """The fields sent, as :class:`RuleSpec` values."""
        sent = super().changes()
        if sent.get("channels") is not None:
            sent["channels"] = tuple(sent["channels"])
        return sent


class AlertRuleOut(RecordOut):
    """A stored alert rule, with its last evaluation."""

    id: uuid.UUID
    name: str
    source: str
    spec: dict[str, Any]
    op: str
    threshold: float
    recovery_threshold: float | None
    for_s: int
    keep_firing_for_s: int
    labels: dict[str, str]
    severity: str
    annotations: dict[str, str]
    interval_s: int
    no_data: str
    on_error: str
    channels: list[str]
    paused: bool
    last_slot_at: datetime | None = Field(description="The newest slot evaluated.")
    last_evaluated_at: datetime | None
    last_error: str | None = Field(description="Why the last evaluation failed, if it did.")
    created_at: datetime
    updated_at: datetime


class AlertRulePage(Page[AlertRuleOut]):
    """A page of rules, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""


class AlertOut(RecordOut):
    """An alert: a rule and one set of labels, its state and since when."""

    id: uuid.UUID
    rule_id: uuid.UUID
    rule: str = Field(description="The rule's name.")
    labels: dict[str, str]
    state: AlertState
    since: datetime = Field(description="The slot its state began.")
    fired_at: datetime | None = Field(description="The slot it last began firing.")
    last_value: float | None
    last_evaluated_at: datetime | None
    last_error: str | None
    silenced_by: list[str] = Field(description="Ids of the silences muting it now.")
    inhibited_by: list[str] = Field(description="Names of the inhibit rules muting it now.")
    created_at: datetime

    @classmethod
    def from_record(cls, record: InstanceRecord, muted: Muting | None = None) -> AlertOut:
        """The JSON form of an instance (``muted``: what mutes it now)."""
        muted = muted or Muting()
        return cls.with_computed(
            record, silenced_by=list(muted.silenced_by), inhibited_by=list(muted.inhibited_by)
        )


class AlertPage(Page[AlertOut]):
    """A page of alerts, newest first."""


class AlertEventOut(BaseModel):
    """One transition of an alert."""

    id: uuid.UUID
    alert_id: uuid.UUID
    rule_id: uuid.UUID
    event: str
    from_state: str
    to_state: str
    actor: str
    at: datetime = Field(description="The slot (or the edit's time, for a reset).")
    value: float | None
    notice: str | None = Field(description="`FIRING`, `RESOLVED` or none.")
    notified_at: datetime | None
    notification_id: uuid.UUID | None
    notice_error: str | None
    created_at: datetime

    @classmethod
    def from_record(cls, row: AlertEventRow) -> AlertEventOut:
        """The JSON form of an event."""
        return cls(
            **same_named(row, cls, "alert_id", "from_state", "to_state"),
            alert_id=row.instance_id,
            from_state=row.source_state,
            to_state=row.target_state,
        )


class AlertHistoryPage(Page[AlertEventOut]):
    """A page of events, newest first."""


#: What Go's zero time (a Go client's "no time") starts with.
GO_ZERO_TIME = "0001-01-01T00:00:00"
MAX_LABELS = 50
MAX_VALUE = 1_000
MAX_ANNOTATION = 10_000
LabelName = Annotated[str, StringConstraints(pattern=f"^{LABEL_NAME.pattern}$", strict=True)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_VALUE, strict=True)]
Annotation = Annotated[str, StringConstraints(max_length=MAX_ANNOTATION, strict=True)]


class PostableAlert(BaseModel):
    """An alert as Alertmanager's API v2 takes it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    labels: dict[LabelName, LabelValue] = Field(min_length=1, max_length=MAX_LABELS)
    annotations: dict[LabelName, Annotation] = Field(default_factory=dict, max_length=MAX_LABELS)
    starts_at: Rfc3339 | None = Field(
        default=None, alias="startsAt", description="When it began (default: now)."
    )
    ends_at: Rfc3339 | None = Field(
        default=None,
        alias="endsAt",
        description="When it ends: in the past, it is resolved; none, now + the resolve timeout.",
    )
    generator_url: str | None = Field(default=None, alias="generatorURL", max_length=2_000)

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _zero_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.startswith(GO_ZERO_TIME) else value

    @field_validator("labels", "annotations", "generator_url")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        try:
            check_document(value)
        except Unstorable as error:
            raise ValueError(str(error)) from None
        return value
