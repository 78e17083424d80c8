"""The dev supervisor with real processes: restarts after a back-off, stops on a signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.support.devstack import kill_everything, processes
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

#: A supervisor over three processes: one that crashes at once, one that sleeps, one that
#: ignores SIGTERM. Quick steps, so the test sees several restarts in about a second.
SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from cli.supervisor import Backoff, Supervisor

    supervisor = Supervisor(
        backoff=lambda: Backoff(initial=0.2, cap=0.4, reset_after=60), kill_wait_s=1.0
    )
    for name, command in [
        ("crasher", "echo up; exit 3"),
        ("sleeper", "sleep 300"),
        ("stubborn", "trap '' TERM; while :; do sleep 0.1; done"),
    ]:
        supervisor.add(name, command, env=dict(os.environ), cwd=Path.cwd())
    sys.exit(supervisor.run())
    """
)


@contextmanager
def supervisor(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The script above as a process of its own; everything it started is killed afterwards."""
    log = tmp_path / "supervisor.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT], stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process, log
    finally:
        kill_everything(process, tmp_path)


def started_pids(text: str) -> dict[str, list[int]]:
    """Every ``NAME started (pid=N)`` line, by name."""
    found: dict[str, list[int]] = {}
    for name, pid in re.findall(r"\| (\w+) started \(pid=(\d+)\)", text):
        found.setdefault(name, []).append(int(pid))
    return found


@pytest.mark.parametrize(
    ("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["sigint", "sigterm"]
)
def test_a_crashing_process_is_restarted_with_backoff_until_a_signal_stops_all(
    tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    with supervisor(tmp_path) as (process, log):
        # Given a process that exits at once, beside two that keep running
        def three_exits() -> list[str] | None:
            assert process.poll() is None, log.read_text()
            lines = log.read_text().splitlines()
            exits = [line for line in lines if "crasher exited on its own" in line]
            return exits[:3] if len(exits) >= 3 else None

        # Then it is restarted, each time with a line naming its code and the growing wait
        exits = wait_for(three_exits, timeout=30, interval=0.1, what="three restarts")
        assert ["with code 3" in line for line in exits] == [True] * 3
        waits = [re.search(r"restarting it in ([\d.]+) s", line) for line in exits]
        assert [float(match[1]) for match in waits if match] == [0.2, 0.4, 0.4]
        text = log.read_text()
        assert "up" in text, "the process's own output is passed through"
        pids = started_pids(text)
        assert len(pids["sleeper"]) == 1, "the others run on undisturbed"

        # When the signal arrives
        process.send_signal(stop)

        # Then every process stops, the one ignoring SIGTERM after the kill wait, promptly
        assert process.wait(timeout=15) == code
        stopped = log.read_text()
        assert "sent SIGKILL to stubborn" in stopped
        left = processes()
        assert not [pid for pids_of in pids.values() for pid in pids_of if pid in left]


def test_a_signal_stops_every_process_after_the_output_pipe_closed(tmp_path: Path) -> None:
    # Given a supervisor whose output goes to a pipe, as in `make run | tee log`
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    pids: dict[str, list[int]] = {}
    try:
        assert process.stdout is not None
        seen = b""
        while b"sleeper started" not in seen or b"stubborn started" not in seen:
            line = process.stdout.readline()
            assert line, f"the supervisor stopped early: {seen.decode()[-500:]}"
            seen += line
        pids = started_pids(seen.decode())
        # When the reader goes away (Ctrl-C kills `tee` too) and the signal arrives
        process.stdout.close()
        process.send_signal(signal.SIGINT)

        # Then every process still stops: writing to the closed pipe stops nothing
        assert process.wait(timeout=15) == 130
        left = processes()
        assert not [pid for pids_of in pids.values() for pid in pids_of if pid in left]
    finally:
        kill_everything(process, tmp_path)
        for pid in (pid for pids_of in pids.values() for pid in pids_of):
            with suppress(ProcessLookupError):  # each runs in a session of its own
                os.killpg(pid, signal.SIGKILL)
