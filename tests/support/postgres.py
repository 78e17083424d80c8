"""A throwaway PostgreSQL cluster (initdb in a temporary directory): when none is reachable,
and for chaos tests that stop and start the server under a running system."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def pg_binary(name: str) -> str | None:
    """``name`` from PATH, else from the newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def can_start_cluster() -> bool:
    """Whether the PostgreSQL server binaries are installed here."""
    return all(pg_binary(n) for n in ("initdb", "pg_ctl", "postgres"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class ScratchCluster:
    """A private cluster on a free loopback port, in its own directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.admin_url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"
        self._pg_ctl = str(pg_binary("pg_ctl"))

    def _run(self, *args: str, timeout: float = 90) -> None:
        subprocess.run(_as_postgres([*args]), check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        """Create the cluster (trust auth for local connections only)."""
        initdb = str(pg_binary("initdb"))
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", timeout=120)  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=300"
        )
        self._run(self._pg_ctl, "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` disconnects clients; ``immediate`` is a crash)."""
        self._run(self._pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop", timeout=60)


@contextmanager
def scratch_cluster() -> Iterator[ScratchCluster]:
    """A running private cluster, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="taskyard-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    cluster = ScratchCluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        subprocess.run(
            _as_postgres([cluster._pg_ctl, "-D", str(cluster.data), "-m", "immediate", "stop"]),
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
