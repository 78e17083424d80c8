"""What one bench run owns: a private Redis, a PostgreSQL store, and worker and API processes,
each in its own process group and always stopped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.support.devstack import descendants
from tests.support.postgres import can_start_cluster, scratch_cluster
from tests.support.processes import stop_group
from tests.support.services import postgres_admin_url, scratch_postgres_database
from workers.embedded_redis import EmbeddedRedis, start_embedded_redis

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Redis database indexes: each system has its own, on the same server.
TASKYARD_DB = 1
BARE_DB = 2


class BenchError(RuntimeError):
    """The bench could not set up or measure something; the message says what."""


@dataclass(frozen=True)
class Services:
    """The broker and store of this run."""

    redis: EmbeddedRedis
    database_url: str
    postgres: str
    workdir: Path

    @property
    def logs(self) -> Path:
        """Where every process the bench starts writes its output."""
        return self.workdir / "logs"


@contextmanager
def services(workdir: Path) -> Iterator[Services]:
    """A private Redis on a unix socket and a scratch PostgreSQL database; removed afterwards.

    The store is a new database on the PostgreSQL at 127.0.0.1:5432 (or
    ``TASKYARD_TEST_DATABASE_URL``) when reachable, else a private cluster (initdb)."""
    with ExitStack() as stack:
        redis = start_embedded_redis(workdir / "redis", appendonly=False)
        stack.callback(redis.stop)
        admin = postgres_admin_url()
        where = "the PostgreSQL at 127.0.0.1:5432 (a scratch database)"
        if admin is None:
            if not can_start_cluster():
                raise BenchError("no PostgreSQL reachable and no initdb to start a private one")
            admin = stack.enter_context(scratch_cluster()).admin_url
            where = "a private PostgreSQL cluster (initdb, fsync off)"
        url = stack.enter_context(scratch_postgres_database(admin, prefix="taskyard_bench"))
        (workdir / "logs").mkdir(parents=True, exist_ok=True)
        yield Services(redis=redis, database_url=url, postgres=where, workdir=workdir)


def commit_latency(database_url: str, commits: int = 300) -> dict[str, float]:
    """Milliseconds a one-row commit takes on the store (p50, p99 and max of ``commits``): the
    disk's sync, which every enqueue and every job start waits for."""
    engine = sa.create_engine(database_url, poolclass=NullPool)
    took: list[float] = []
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("CREATE TABLE bench_commit_probe (n integer)"))
            connection.execute(sa.text("INSERT INTO bench_commit_probe VALUES (0)"))
            connection.commit()
            for _ in range(commits):
                began = time.perf_counter()
                connection.execute(sa.text("UPDATE bench_commit_probe SET n = n + 1"))
                connection.commit()
                took.append((time.perf_counter() - began) * 1000)
            connection.execute(sa.text("DROP TABLE bench_commit_probe"))
            connection.commit()
    finally:
        engine.dispose()
    took.sort()
    return {"p50": took[len(took) // 2], "p99": took[int(len(took) * 0.99)], "max": took[-1]}


def free_port() -> int:
    """A TCP port on the loopback interface nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TASKYARD_")}
    return {**inherited, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), **extra}


@contextmanager
def spawn(
    command: Sequence[str], log_path: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` from the repository root in its own process group; stop it on exit.

    The environment is this process's without any ``TASKYARD_*`` variable, plus ``env``."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, env=_clean_env(env),
            cwd=REPO, start_new_session=True,
        )  # fmt: skip
        try:
            yield process
        finally:
            stop_group(process, timeout=15)


def worker_command(
    app: str, queues: Sequence[str], name: str, concurrency: int, pool: str = "prefork"
) -> list[str]:
    """A worker as the Procfile starts one (mingle and gossip on, INFO logs)."""
    return [
        str(BIN / "celery"), "-A", app, "worker", "-Q", ",".join(queues), "-n", f"{name}@%h",
        "--concurrency", str(concurrency), "--pool", pool, "--loglevel", "INFO",
    ]  # fmt: skip


def wait_until_ready(
    process: subprocess.Popen[bytes], log_path: Path, marker: bytes, timeout: float = 60.0
) -> None:
    """Wait for ``marker`` in the process's log; fail if it exits or stays silent too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{log_path.stem} exited with {process.returncode}; see {log_path}")
        if marker in log_path.read_bytes():
            return
        time.sleep(0.05)
    raise BenchError(f"{log_path.stem} not ready after {timeout:.0f}s; see {log_path}")


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    return [pid, *(proc.pid for proc in descendants(pid))]


def _proc_texts(pid: int, name: str) -> Iterator[str]:
    """``/proc/<member>/<name>`` of ``pid`` and each live descendant (one that exited is
    left out)."""
    for member in process_tree(pid):
        try:
            yield Path(f"/proc/{member}/{name}").read_text()
        except OSError:
            continue


def rss_bytes(pid: int) -> int:
    """The summed resident set size of ``pid`` and its descendants, from ``/proc``."""
    total = 0
    for status in _proc_texts(pid, "status"):
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system) spent so far by ``pid`` and its live descendants."""
    ticks = 0
    for stat in _proc_texts(pid, "stat"):
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuClock:
    """CPU seconds spent so far: by the whole machine, and by this process with its reaped
    descendants (every worker, API and Redis the bench started, once stopped)."""

    machine: float
    ours: float
    wall: float

    @classmethod
    def read(cls) -> CpuClock:
        """The clocks now."""
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        own = os.times()
        ours = own.user + own.system + own.children_user + own.children_system
        return cls(busy / os.sysconf("SC_CLK_TCK"), ours, time.monotonic())

    def others_since(self, start: CpuClock) -> float:
        """Cores used on average by everything else between ``start`` and this reading."""
        other = (self.machine - start.machine) - (self.ours - start.ours)
        return max(0.0, other / max(self.wall - start.wall, 1e-9))
