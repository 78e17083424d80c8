"""CPU, memory and open descriptors of every process in a tree, read at scrape time.

prometheus_client's own process collector reports the one process that answers the scrape, and
in multiprocess mode not even that. Here each Taskyard process declares its kind once it has
set up metrics (:func:`declare_process`: a ``liveall`` gauge, so the tree's files tell which
pid is which, and when it started), and the exporter reads each declared pid with psutil when
scraped, summed per kind. CPU includes the children a process has reaped, so a pool child's
time stays counted after it exits. A declared pid that is gone (or reused by another process)
is forgotten: its live gauges are removed, as when a worker's pool child exits cleanly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass

import psutil
from prometheus_client import Gauge, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from workers.observability.multiproc import ENV

#: The kinds of process that declare themselves (the ``process`` label).
KINDS = ("api", "worker", "dispatcher", "beat")
_DECLARED = "taskyard_process_started"
#: A declared start more than this far from the pid's start means the pid was reused.
_START_SLACK_S = 1.0

PROCESS_STARTED = Gauge(
    _DECLARED,
    "When each declared process started (read by the exporter, not exported).",
    ["process"],
    multiprocess_mode="liveall",
)


def declare_process(kind: str) -> None:
    """Count this process, its CPU, memory and descriptors, under ``kind`` (one of
    :data:`KINDS`); call it after the entry point's metrics setup (and in each pool child)."""
    if kind not in KINDS:
        raise ValueError(f"process kind {kind!r} is not one of {', '.join(KINDS)}")
    PROCESS_STARTED.labels(kind).set(psutil.Process().create_time())


@dataclass
class Usage:
    """What the processes of one kind use together."""

    processes: int = 0
    cpu_s: float = 0.0
    rss_bytes: int = 0
    fds: int = 0


def _read(pid: int, declared_start: float) -> tuple[float, int, int] | None:
    """``(cpu seconds with reaped children, resident bytes, open descriptors)``, or ``None``
    when the process is not ours to read. Raises ``psutil.NoSuchProcess`` when it is gone (a
    zombie too) or the pid is another process's now."""
    process = psutil.Process(pid)
    try:
        with process.oneshot():
            if abs(process.create_time() - declared_start) > _START_SLACK_S:
                raise psutil.NoSuchProcess(pid, msg="the pid was reused")
            if process.status() == psutil.STATUS_ZOMBIE:
                raise psutil.ZombieProcess(pid)
            cpu = process.cpu_times()
            return (
                cpu.user + cpu.system + cpu.children_user + cpu.children_system,
                process.memory_info().rss,
                process.num_fds(),
            )
    except psutil.AccessDenied:
        return None


def tree_usage(declared: dict[int, tuple[str, float]], path: str) -> dict[str, Usage]:
    """Usage per kind of the ``declared`` pids (pid -> kind, start); forgets those gone."""
    usage: dict[str, Usage] = {}
    for pid, (kind, started) in declared.items():
        try:
            read = _read(pid, started)
        except psutil.NoSuchProcess:
            with suppress(FileNotFoundError):  # another exporter of the tree forgot it first
                multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
            continue
        if read is None:
            continue
        total = usage.setdefault(kind, Usage())
        total.processes += 1
        total.cpu_s += read[0]
        total.rss_bytes += read[1]
        total.fds += read[2]
    return usage


def _families(usage: dict[str, Usage]) -> Iterator[Metric]:
    label = ["process"]
    count = GaugeMetricFamily("taskyard_processes", "Live processes of each kind.", labels=label)
    cpu = CounterMetricFamily(
        "taskyard_process_cpu_seconds",
        "CPU time of each kind's processes, with the children they reaped.",
        labels=label,
    )
    rss = GaugeMetricFamily(
        "taskyard_process_resident_memory_bytes",
        "Resident memory of each kind's processes together.",
        labels=label,
    )
    fds = GaugeMetricFamily(
        "taskyard_process_open_fds", "Open file descriptors of each kind's processes.", labels=label
    )
    for kind, total in sorted(usage.items()):
        count.add_metric([kind], total.processes)
        cpu.add_metric([kind], total.cpu_s)
        rss.add_metric([kind], total.rss_bytes)
        fds.add_metric([kind], total.fds)
    yield from (count, cpu, rss, fds)


class ProcessTreeCollector(Collector):
    """Every sample the tree's processes wrote (prometheus_client's multiprocess collector),
    and the tree's process usage per kind in place of the declarations it is read from."""

    def __init__(self, path: str | None = None) -> None:
        self._path = path or os.environ[ENV]
        self._samples = multiprocess.MultiProcessCollector(None, self._path)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        """Read the tree's files, then each declared process."""
        declared: dict[int, tuple[str, float]] = {}
        for family in self._samples.collect():  # type: ignore[no-untyped-call]
            if family.name != _DECLARED:
                yield family
                continue
            for sample in family.samples:
                if sample.value:
                    declared[int(sample.labels["pid"])] = (sample.labels["process"], sample.value)
        yield from _families(tree_usage(declared, self._path))
