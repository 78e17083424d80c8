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
    """User and system CPU seconds ``pid`` has used so far (0 when it has gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces; the fields after it start with the state (field 3).
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S


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
    """The processes behind one worker's jobs: ``worker_pid`` (main), its pool, the store's
    connections, the broker."""

    def census() -> dict[str, list[int]]:
        tree = process_tree(worker_pid)
        return {"main": tree[:1], "pool": tree[1:], "store": store(), "broker": [broker_pid]}

    return census


def read(census: Census) -> Reading:
    """The CPU seconds of every process of each role now."""
    return {role: {pid: cpu_seconds(pid) for pid in pids} for role, pids in census().items()}


def per_job_ms(before: Reading, after: Reading, jobs: int) -> dict[str, float]:
    """CPU milliseconds a job by role between two readings (``cpu_<role>_ms``) and in all
    (``cpu_ms``). A process first seen in ``after`` counts from its start, one gone by then
    not at all: each side's connections and pool processes outlive the measurement."""
    metrics: dict[str, float] = {}
    for role, now in after.items():
        then = before.get(role, {})
        used = sum(max(0.0, seconds - then.get(pid, 0.0)) for pid, seconds in now.items())
        metrics[f"cpu_{role}_ms"] = used * 1000 / jobs
    metrics["cpu_ms"] = sum(metrics.values())
    return metrics
