"""6 and 7: workloads of features that do not exist yet, reported as such (no numbers)."""

from __future__ import annotations

from bench.model import Workload

WORKLOADS = (
    Workload(
        name="alerts",
        title="6. Alert evaluation: 10,000 rules in one tick",
        metrics=(),
        run=None,
        pending_reason="alert evaluation has not landed",
    ),
    Workload(
        name="notifications",
        title="7. Notification fan-out: 1,000 webhooks at a 100/s channel limit",
        metrics=(),
        run=None,
        pending_reason="notifications have not landed",
    ),
)
