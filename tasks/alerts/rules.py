"""What an alert rule is before it is stored, and the one validation API and CLI go through:
the name, the source and its spec, a finite threshold (and a recovery threshold on the
recovering side of it), the timers, labels, severity, annotation templates that render, the
interval, the no-data and error policies, and channels that exist."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from tasks.alerts import TICK_S
from tasks.alerts.decision import Condition, Op, Policy
from tasks.alerts.errors import InvalidAlertRule, invalid
from tasks.alerts.matchers import LABEL_NAME
from tasks.alerts.sources import SourceKind, check_spec
from tasks.notifications.errors import RenderError
from tasks.notifications.rendering import Sources, render
from workers.names import NAME_RULE, is_name
from workers.storable import Unstorable, check_text
from workers.store.engine import session_scope
from workers.store.models import AlertRule, Channel

MAX_INTERVAL_S = 86_400
MAX_TIMER_S = 7 * 86_400
MAX_LABELS = 20
MAX_LABEL_VALUE = 200
MAX_CHANNELS = 20
MAX_SUMMARY = 2_000
MAX_DESCRIPTION = 10_000
ANNOTATIONS = ("summary", "description")
DEFAULT_ANNOTATIONS = {
    "summary": "{{ rule }}: {{ value }} {{ op }} {{ threshold }}",
    "description": "{% for k, v in labels|dictsort %}{{ k }}={{ v }} {% endfor %}",
}
#: The edits after which a rule's instances are not the same alerts: they are reset.
RESETTING = frozenset({"source", "spec", "op", "threshold", "recovery_threshold", "labels"})


class Severity(StrEnum):
    """How urgent a rule's alerts are."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class RuleSpec:
    """A rule's definition (its state is its instances')."""

    name: str
    source: SourceKind
    op: Op
    threshold: float
    spec: dict[str, Any] = field(default_factory=dict)
    recovery_threshold: float | None = None
    for_s: int = 0
    keep_firing_for_s: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    severity: Severity = Severity.WARNING
    annotations: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ANNOTATIONS))
    interval_s: int = 60
    no_data: Policy = Policy.OK
    on_error: Policy = Policy.KEEP_LAST
    channels: tuple[str, ...] = ()
    paused: bool = False

    @property
    def condition(self) -> Condition:
        """What the decision needs of this rule."""
        return Condition(
            self.op,
            self.threshold,
            self.recovery_threshold,
            self.for_s,
            self.keep_firing_for_s,
            self.no_data,
            self.on_error,
        )

    def columns(self) -> dict[str, Any]:
        """The rule as ``alert_rules`` column values."""
        return {
            "name": self.name,
            "source": self.source.value,
            "spec": self.spec,
            "op": self.op.value,
            "threshold": self.threshold,
            "recovery_threshold": self.recovery_threshold,
            "for_s": self.for_s,
            "keep_firing_for_s": self.keep_firing_for_s,
            "labels": self.labels,
            "severity": self.severity.value,
            "annotations": self.annotations,
            "interval_s": self.interval_s,
            "no_data": self.no_data.value,
            "on_error": self.on_error.value,
            "channels": list(self.channels),
            "paused": self.paused,
        }


def spec_of(row: AlertRule) -> RuleSpec:
    """The stored rule's definition."""
    return RuleSpec(
        name=row.name,
        source=SourceKind(row.source),
        op=Op(row.op),
        threshold=row.threshold,
        spec=dict(row.spec),
        recovery_threshold=row.recovery_threshold,
        for_s=row.for_s,
        keep_firing_for_s=row.keep_firing_for_s,
        labels=dict(row.labels),
        severity=Severity(row.severity),
        annotations=dict(row.annotations),
        interval_s=row.interval_s,
        no_data=Policy(row.no_data),
        on_error=Policy(row.on_error),
        channels=tuple(row.channels),
        paused=row.paused,
    )


def _choice(kind: type[StrEnum], field_name: str, value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(item.value) for item in kind)
        raise invalid(field_name, f"{str(value)[:50]!r} is not one of {allowed}") from None


def _finite(field_name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(field_name, "must be a number")
    if not math.isfinite(value):
        raise invalid(field_name, "must be a finite number (not NaN or infinity)")
    return float(value)


def _seconds(field_name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(field_name, f"must be a whole number of seconds from {low} to {high}")
    return value


def _text(field_name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise invalid(field_name, "must be text")
    try:
        check_text(field_name, value, limit)
    except Unstorable as error:
        raise invalid(field_name, error.message) from None
    return value


def _labels(labels: Any) -> dict[str, str]:
    if not isinstance(labels, dict) or len(labels) > MAX_LABELS:
        raise invalid("labels", f"must be an object of at most {MAX_LABELS} labels")
    for name, value in labels.items():
        if not isinstance(name, str) or not LABEL_NAME.fullmatch(name):
            raise invalid("labels", f"{str(name)[:50]!r} is not a label name (letters, digits, _)")
        _text(f"labels.{name}", value, MAX_LABEL_VALUE)
    return dict(labels)


def _recovery(op: Op, threshold: float, recovery: Any) -> float | None:
    if recovery is None:
        return None
    value = _finite("recovery_threshold", recovery)
    if op in (Op.EQ, Op.NE):
        raise invalid("recovery_threshold", f"has no meaning with op {op.value!r}")
    above = op in (Op.GT, Op.GE)
    if (above and value > threshold) or (not above and value < threshold):
        side = "at most" if above else "at least"
        raise invalid("recovery_threshold", f"must be {side} the threshold ({threshold:g})")
    return value


def sample_data(spec: RuleSpec) -> dict[str, Any]:
    """What annotations are rendered against when a rule is saved."""
    return notice_data(spec, dict(spec.labels), spec.threshold, "firing")


def notice_data(
    spec: RuleSpec,
    labels: dict[str, str],
    value: float | None,
    state: str,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The variables of a rule's annotation templates (``annotations``: those an alert was
    received with through the Alertmanager door)."""
    return {
        "rule": spec.name,
        "labels": labels,
        "annotations": annotations or {},
        "value": value,
        "state": state,
        "op": spec.op.value,
        "threshold": spec.threshold,
        "severity": spec.severity.value,
    }


def _annotations(spec: RuleSpec) -> dict[str, str]:
    given = spec.annotations
    if not isinstance(given, dict) or set(given) - set(ANNOTATIONS):
        raise invalid("annotations", f"takes only {', '.join(ANNOTATIONS)}")
    checked = {**DEFAULT_ANNOTATIONS, **given}
    _text("annotations.summary", checked["summary"], MAX_SUMMARY)
    _text("annotations.description", checked["description"], MAX_DESCRIPTION)
    sources = Sources(subject=checked["summary"], text=checked["description"])
    try:
        render(sources, sample_data(replace(spec, annotations=checked)))
    except RenderError as error:
        part = "summary" if error.part == "subject" else "description"
        raise invalid(f"annotations.{part}", error.message.split(": ", 1)[-1]) from None
    return checked


def check_channels(names: Any, kind: type[InvalidAlertRule] = InvalidAlertRule) -> tuple[str, ...]:
    """Channel names that exist (at most :data:`MAX_CHANNELS`), else ``kind`` naming
    ``channels``."""
    if not isinstance(names, list | tuple) or len(names) > MAX_CHANNELS:
        raise invalid("channels", f"name at most {MAX_CHANNELS} channels", kind)
    for name in names:
        if not isinstance(name, str) or not is_name(name):
            message = f"{str(name)[:50]!r} is not a channel name; {NAME_RULE}"
            raise invalid("channels", message, kind)
    wanted = tuple(dict.fromkeys(names))
    if wanted:
        with session_scope() as session:
            known = set(session.scalars(select(Channel.name).where(Channel.name.in_(wanted))))
        missing = [name for name in wanted if name not in known]
        if missing:
            message = f"no channel named {missing[0]!r}; `taskyard channels list`"
            raise invalid("channels", message, kind)
    return wanted


def check_rule(spec: RuleSpec, saved: RuleSpec | None = None) -> RuleSpec:
    """``spec`` validated, its defaults filled in, else :class:`InvalidAlertRule` naming the
    field (``threshold``, ``spec.query``, ``annotations.summary``...); ``saved`` is the rule
    as stored, when this is an edit."""
    if not isinstance(spec.name, str) or not is_name(spec.name):
        raise invalid("name", f"{str(spec.name)[:50]!r} is not a usable name; {NAME_RULE}")
    source = _choice(SourceKind, "source", spec.source)
    op = _choice(Op, "op", spec.op)
    threshold = _finite("threshold", spec.threshold)
    checked = replace(
        spec,
        source=source,
        op=op,
        threshold=threshold,
        spec=check_spec(
            source,
            spec.spec if isinstance(spec.spec, dict) else {},
            saved.spec if saved is not None and saved.source == source else None,
        ),
        recovery_threshold=_recovery(op, threshold, spec.recovery_threshold),
        for_s=_seconds("for_s", spec.for_s, 0, MAX_TIMER_S),
        keep_firing_for_s=_seconds("keep_firing_for_s", spec.keep_firing_for_s, 0, MAX_TIMER_S),
        labels=_labels(spec.labels),
        severity=_choice(Severity, "severity", spec.severity),
        interval_s=_seconds("interval_s", spec.interval_s, TICK_S, MAX_INTERVAL_S),
        no_data=_choice(Policy, "no_data", spec.no_data),
        on_error=_choice(Policy, "on_error", spec.on_error),
        channels=check_channels(spec.channels),
    )
    if checked.interval_s % TICK_S:
        raise invalid("interval_s", f"must be a multiple of {TICK_S} (the evaluator's tick)")
    if not isinstance(spec.paused, bool):
        raise invalid("paused", "must be true or false")
    return replace(checked, annotations=_annotations(checked))
