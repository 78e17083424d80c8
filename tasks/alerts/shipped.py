"""The self-monitoring rules Taskyard ships: on by default, pausable, editable like any other.

:func:`install` makes each one that is missing (by name) and leaves the others as they are, so
an operator's pause or edit stays; it runs after ``taskyard db upgrade`` and when ``taskyard
dev`` starts (which routes them to its ``dev-mail`` channel). A shipped rule removed comes
back at the next upgrade: pause it instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tasks.alerts import rule_store
from tasks.alerts.decision import Op, Policy
from tasks.alerts.errors import AlertRuleConflict
from tasks.alerts.rules import RuleSpec, Severity
from tasks.alerts.sources import SourceKind

#: The Procfile's worker profiles (``-n <profile>@%h``); edit the rule's spec for others.
PROFILES = ["realtime", "default", "bulk"]
WINDOW = {"window_s": 900}


def _says(summary: str, description: str) -> dict[str, str]:
    return {"summary": summary, "description": description}


_S = SourceKind
SHIPPED: tuple[RuleSpec, ...] = (
    RuleSpec(
        "taskyard-workers-down", _S.WORKERS_ALIVE, Op.LT, 1.0, spec={"profiles": PROFILES},
        for_s=30, interval_s=30, severity=Severity.CRITICAL,
        annotations=_says(
            "no {{ labels.profile|default('?') }} worker answers",
            "No worker of profile {{ labels.profile|default('?') }} answered a ping: "
            "the queues it consumes wait.",
        ),
    ),
    RuleSpec(
        "taskyard-queue-backlog-high", _S.QUEUE_DEPTH, Op.GT, 10_000.0, for_s=600,
        interval_s=60,
        annotations=_says(
            "queue {{ labels.queue|default('?') }} holds {{ value|default(0)|int }} messages",
            "The backlog has stayed above 10000 for 10 minutes: add workers for the queue or "
            "find what floods it.",
        ),
    ),
    RuleSpec(
        "taskyard-queue-backlog-age", _S.OLDEST_QUEUED_AGE, Op.GT, 300.0,
        recovery_threshold=60.0, for_s=60, interval_s=30,
        annotations=_says(
            "the oldest {{ labels.queue|default('?') }} job has waited "
            "{{ value|default(0)|int }} s",
            "Jobs wait in {{ labels.queue|default('?') }} longer than 5 minutes.",
        ),
    ),
    RuleSpec(
        "taskyard-dead-jobs-growing", _S.DEAD_JOBS, Op.GT, 0.0, spec=WINDOW, interval_s=60,
        annotations=_says(
            "{{ value|default(0)|int }} jobs died in the last 15 minutes",
            "`taskyard dead-letters list` shows them.",
        ),
    ),
    RuleSpec(
        "taskyard-deliveries-failing", _S.DELIVERIES_FAILING, Op.GT, 0.0, spec=WINDOW,
        interval_s=60,
        annotations=_says(
            "channel {{ labels.channel|default('?') }}: {{ value|default(0)|int }} "
            "deliveries failed",
            "Deliveries through {{ labels.channel|default('?') }} failed or died in the last "
            "15 minutes.",
        ),
    ),
    RuleSpec(
        "taskyard-failure-ratio-high", _S.FAILURE_RATIO, Op.GT, 0.5,
        spec={**WINDOW, "min_finished": 20}, for_s=300, interval_s=60,
        annotations=_says(
            "{{ labels.job_type|default('?') }}: {{ (value|default(0) * 100)|round|int }}% "
            "failed",
            "More than half the {{ labels.job_type|default('?') }} jobs that finished in the "
            "last 15 minutes failed.",
        ),
    ),
    RuleSpec(
        "taskyard-canary-late", _S.CANARY_LATENCY, Op.GT, 60.0, for_s=60, interval_s=60,
        no_data=Policy.OK,
        annotations=_says(
            "the {{ labels.queue|default('?') }} canary took {{ value|default(0)|int }} s",
            "A diag.noop through {{ labels.queue|default('?') }} took (or has waited) more "
            "than a minute from enqueue to finish.",
        ),
    ),
)  # fmt: skip


def install(channels: Sequence[str] = ()) -> list[str]:
    """Make each shipped rule that is missing (notifying ``channels``); the names made."""
    made = []
    existing = {rule.name for rule in rule_store.named([spec.name for spec in SHIPPED])}
    for spec in SHIPPED:
        if spec.name in existing:
            continue
        try:
            rule_store.create_rule(replace(spec, channels=tuple(channels)))
        except AlertRuleConflict:  # made meanwhile by another installer
            continue
        made.append(spec.name)
    return made
