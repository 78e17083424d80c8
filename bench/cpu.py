"""CPU time by process over a measurement, per job: what each process of a system spends on a
job, which other work on a shared machine moves far less than it moves the rates."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bench.stack import process_tree

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")
#: Who does a job's work: a worker's main process, its pool processes, the store's server
#: processes serving the database, and the broker.
ROLES = ("main", "pool", "store", "broker")
#: ``{role: [pid, ...]}`` as it is now (pool processes and store connections come and go).
Census = Callable[[], Mapping[str, Sequence[int]]]
Reading = dict[str, dict[int, float]]


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds ``pid`` has used so far (0 when it has gone). A negative
    ``pid`` reads the children ``-pid`` has reaped: a pool process replaced during a drain
    (``worker_max_tasks_per_child``) is counted there once it has exited."""
    try:
        stat = Path(f"/proc/{abs(pid)}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces; the fields after it start with the state (field 3).
    fields = stat.rpartition(")")[2].split()
    first = 13 if pid < 0 else 11  # cutime and cstime, else utime and stime
    return (int(fields[first]) + int(fields[first + 1])) * _TICK_S


def store_backends(database_url: str) -> Callable[[], list[int]]:
    """A census of the PostgreSQL server processes connected to ``database_url``'s database
    (``[]`` when the server is not on this machine's ``/proc``)."""
    engine = sa.create_engine(database_url, poolclass=NullPool)
    query = sa.text(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def census() -> list[int]:
        with engine.connect() as connection:
            pids = [int(pid) for pid in connection.execute(query).scalars()]
        return [pid for pid in pids if Path(f"/proc/{pid}").exists()]

    return census


def worker_census(worker_pid: int, broker_pid: int, store: Callable[[], list[int]]) -> Census:
    """The processes behind one worker's jobs: ``worker_pid`` (main), its pool (with the pool
    processes it has reaped), the store's connections, the broker."""

    def census() -> dict[str, list[int]]:
        tree = process_tree(worker_pid)
        pool = [*tree[1:], -worker_pid]
        return {"main": tree[:1], "pool": pool, "store": store(), "broker": [broker_pid]}

    return census


def read(census: Census) -> Reading:
    """The CPU seconds of every process of each role now."""
    return {role: {pid: cpu_seconds(pid) for pid in pids} for role, pids in census().items()}


def per_job_ms(before: Reading, after: Reading, jobs: int) -> dict[str, float]:
    """CPU milliseconds a job by role between two readings (``cpu_<role>_ms``) and in all
    (``cpu_ms``). A process first seen in ``after`` counts from its start. One gone by then
    counts only when its parent reaped it and the role reads the parent's reaped children
    (a negative pid): those hold its whole life, so what it had used before is taken off."""
    metrics: dict[str, float] = {}
    for role, now in after.items():
        then = before.get(role, {})
        used = sum(max(0.0, seconds - then.get(pid, 0.0)) for pid, seconds in now.items())
        if any(pid < 0 for pid in now):
            used -= sum(seconds for pid, seconds in then.items() if pid > 0 and pid not in now)
        metrics[f"cpu_{role}_ms"] = used * 1000 / jobs
    metrics["cpu_ms"] = sum(metrics.values())
    return metrics
