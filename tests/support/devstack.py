"""`taskyard dev` as a subprocess for e2e tests: started clean, watched through /proc, killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
TASKYARD = BIN / "taskyard"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it; ``started`` tells it apart from a later one with its pid."""

    pid: int
    ppid: int
    pgid: int
    state: str
    started: int


def processes() -> dict[int, Proc]:
    """Every live (non-zombie) process on the machine."""
    found: dict[int, Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        proc = Proc(int(entry.name), int(fields[1]), int(fields[2]), fields[0], int(fields[19]))
        if proc.state != "Z":
            found[proc.pid] = proc
    return found


def descendants(root: int) -> set[Proc]:
    """The live processes below ``root`` (Procfile processes run in sessions of their own)."""
    table = processes()
    found: set[Proc] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [p for p in table.values() if p.ppid == parent]
        found.update(children)
        frontier.extend(p.pid for p in children)
    return found


def still_alive(procs: set[Proc]) -> set[Proc]:
    """Those of ``procs`` that are still running (same pid, same start time)."""
    table = processes()
    return {p for p in procs if (now := table.get(p.pid)) is not None and now.started == p.started}


def command_line(pid: int) -> list[bytes]:
    """The arguments ``pid`` was started with (empty once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def busy_port() -> Iterator[int]:
    """A loopback port something listens on, until the block ends."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield int(busy.getsockname()[1])


def assert_running(process: subprocess.Popen[bytes]) -> None:
    """Fail at once, rather than at a deadline, when the stack has stopped."""
    assert process.poll() is None, f"taskyard dev exited early with {process.returncode}"


def get(url: str, **kwargs: Any) -> httpx.Response | None:
    """A GET, or ``None`` while the server is not accepting connections yet."""
    try:
        return httpx.get(url, timeout=5, **kwargs)
    except httpx.TransportError:
        return None


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any TASKYARD_* variable, the venv first on PATH (activated)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TASKYARD_")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **extra}


@contextmanager
def dev_stack(
    cwd: Path, var_dir: Path, log: Path, args: Sequence[str] = (), env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`taskyard dev ARGS` run from ``cwd`` in its own process group, with no broker or store
    configured; ``var_dir`` is where it keeps its state (for the clean-up)."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(TASKYARD), "dev", *args], cwd=cwd, env=env or clean_env(), stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    except BaseException:
        print(log.read_text(errors="replace"))
        raise
    finally:
        kill_everything(process, var_dir)


def kill_everything(process: subprocess.Popen[bytes], var_dir: Path) -> None:
    """SIGKILL the stack's group, its descendants, and anything else naming its var dir."""
    doomed = descendants(process.pid) | {p for p in processes().values() if names(p, var_dir)}
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for leftover in still_alive(doomed):
        with suppress(ProcessLookupError):
            os.kill(leftover.pid, signal.SIGKILL)
    process.wait()


def names(proc: Proc, var_dir: Path) -> bool:
    """Whether ``proc``'s command line mentions ``var_dir`` (the Redis, beat, Flower of a stack)."""
    return any(str(var_dir).encode() in arg for arg in command_line(proc.pid))
