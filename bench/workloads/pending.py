"""6: a workload of a feature that does not exist yet, reported as such (no numbers)."""

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
)
