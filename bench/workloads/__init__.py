"""The issue's workloads, in its order."""

from __future__ import annotations

from bench.model import Workload
from bench.workloads import alerts, api, drain, latency, memory, notifications, priority

WORKLOADS: tuple[Workload, ...] = (
    drain.WORKLOAD,
    latency.WORKLOAD,
    priority.WORKLOAD,
    api.WORKLOAD,
    memory.WORKLOAD,
    alerts.WORKLOAD,
    notifications.WORKLOAD,
)
