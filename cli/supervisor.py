"""Running the Procfile for ``taskyard dev``: a process that exits is restarted after a back-off.

honcho's ``Manager`` stops every process as soon as one exits, which turns one crash into the
end of the stack. This supervisor keeps honcho's pieces (its ``Popen``: a shell in a session of
its own, output on one pipe; its ``Printer`` and colours) and changes the policy: a process
that exits on its own is started again after :class:`Backoff`'s delay, with one line saying
so; SIGINT or SIGTERM stops them all (SIGKILL after :data:`KILL_WAIT_S`, or at a second signal).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from honcho.colour import get_colours
from honcho.printer import Message, Printer
from honcho.process import Popen

KILL_WAIT_S = 5.0
#: The exit status the stack reports for the signal that stopped it, as a shell would.
SIGNAL_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
SYSTEM = "system"
TICK_S = 0.1


@dataclass
class Backoff:
    """Restart delays: ``initial`` doubling up to ``cap``, back to ``initial`` after a good run."""

    initial: float = 1.0
    cap: float = 30.0
    reset_after: float = 60.0
    _next: float = field(init=False, default=0.0)

    def delay(self, ran_for: float) -> float:
        """The wait before restarting a process that exited after running ``ran_for`` seconds."""
        if ran_for >= self.reset_after or self._next == 0.0:
            self._next = self.initial
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay


def describe_exit(code: int) -> str:
    """``code 1``, ``code 137 (SIGKILL)`` (a shell's 128+N), ``signal SIGTERM`` (negative)."""
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    if code > 128 and code - 128 in signal.valid_signals():
        return f"code {code} ({signal.Signals(code - 128).name})"
    return f"code {code}"


@dataclass
class Supervised:
    """One Procfile process and its restart state."""

    name: str
    cmd: str
    env: dict[str, str]
    cwd: Path
    colour: str | None
    backoff: Backoff
    child: subprocess.Popen[bytes] | None = None
    reader: threading.Thread | None = None
    started_at: float = 0.0
    restart_at: float | None = None


class Supervisor:
    """Runs processes until SIGINT or SIGTERM, restarting each one that exits on its own."""

    def __init__(
        self,
        printer: Printer | None = None,
        backoff: Callable[[], Backoff] = Backoff,
        kill_wait_s: float = KILL_WAIT_S,
    ) -> None:
        self._printer = printer if printer is not None else Printer(output=sys.stdout)
        self._printer.width = len(SYSTEM)
        self._new_backoff = backoff
        self._kill_wait_s = kill_wait_s
        self._colours = get_colours()
        self._processes: list[Supervised] = []
        self._lines: queue.Queue[Message] = queue.Queue()
        self._signal: int | None = None
        self._stop_deadline: float | None = None
        #: The terminal or pipe the output went to is gone (a closed `| tee`): supervision,
        #: and above all stopping every process, goes on without it.
        self._output_lost = False

    def add(self, name: str, cmd: str, env: dict[str, str], cwd: Path) -> None:
        """Run ``cmd`` (a shell command line) as ``name`` once :meth:`run` starts."""
        colour = next(self._colours)
        self._processes.append(Supervised(name, cmd, env, cwd, colour, self._new_backoff()))
        self._printer.width = max(self._printer.width, len(name))

    def run(self) -> int:
        """Start every process and supervise them until a signal stops them all; its code."""
        previous = {s: signal.signal(s, self._on_signal) for s in SIGNAL_CODES}
        try:
            for process in self._processes:
                self._start(process)
            while self._signal is None or self._running():
                self._tick()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._signal_all(signal.SIGKILL)  # only on an error: a stop leaves none running
        for process in self._processes:
            if process.reader is not None:
                process.reader.join(timeout=1)
        self._print_lines()
        return SIGNAL_CODES[signal.Signals(self._signal)]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only note it: printing or killing from inside a handler could interrupt a write.
        if self._signal is not None:
            self._stop_deadline = 0.0  # a second signal: no more waiting
        self._signal = signum

    def _tick(self) -> None:
        self._print_lines(wait=TICK_S)
        if self._signal is not None and self._stop_deadline is None:
            self._stop_all()
        for process in self._processes:
            self._reap(process)
            due = process.restart_at is not None and time.monotonic() >= process.restart_at
            if due and self._signal is None:
                self._start(process)
        if self._stop_deadline is not None and time.monotonic() >= self._stop_deadline:
            self._stop_deadline = float("inf")
            self._signal_all(signal.SIGKILL)

    def _running(self) -> list[Supervised]:
        return [p for p in self._processes if p.child is not None]

    def _start(self, process: Supervised) -> None:
        process.restart_at = None
        child = Popen(process.cmd, env=process.env, cwd=str(process.cwd))
        process.child, process.started_at = child, time.monotonic()
        process.reader = threading.Thread(
            target=self._pump, args=(process, child), name=f"output-{process.name}", daemon=True
        )
        process.reader.start()
        self._say(f"{process.name} started (pid={child.pid})")

    def _pump(self, process: Supervised, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        for line in iter(child.stdout.readline, b""):
            self._lines.put(Message("line", line, datetime.now(), process.name, process.colour))
        child.stdout.close()

    def _reap(self, process: Supervised) -> None:
        child = process.child
        if child is None or (code := child.poll()) is None:
            return
        # What the process left in its session (a worker's pool) goes with it, output flushed.
        _signal_group(child.pid, signal.SIGKILL)
        if process.reader is not None:
            process.reader.join(timeout=2)
        self._print_lines()
        process.child = None
        if self._signal is not None:
            self._say(f"{process.name} stopped ({describe_exit(code)})")
            return
        ran_for = time.monotonic() - process.started_at
        delay = process.backoff.delay(ran_for)
        process.restart_at = time.monotonic() + delay
        at = (datetime.now() + timedelta(seconds=delay)).strftime("%H:%M:%S")
        self._say(
            f"{process.name} exited on its own with {describe_exit(code)} after {ran_for:.0f} s; "
            f"restarting it in {delay:g} s, at {at} (Ctrl-C stops everything)"
        )

    def _stop_all(self) -> None:
        assert self._signal is not None
        self._say(f"{signal.Signals(self._signal).name} received: stopping every process")
        self._stop_deadline = time.monotonic() + self._kill_wait_s
        for process in self._processes:
            process.restart_at = None
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, signum: int) -> None:
        for process in self._running():
            assert process.child is not None
            _signal_group(process.child.pid, signum)
            if signum == signal.SIGKILL:
                self._say(f"sent SIGKILL to {process.name} (pid {process.child.pid})")

    def _print_lines(self, wait: float = 0.0) -> None:
        try:
            message = self._lines.get(timeout=wait) if wait else self._lines.get_nowait()
            while True:
                self._write(message)
                message = self._lines.get_nowait()
        except queue.Empty:
            return

    def _say(self, text: str) -> None:
        self._write(Message("line", f"{text}\n", datetime.now(), SYSTEM, None))

    def _write(self, message: Message) -> None:
        if self._output_lost:
            return
        try:
            self._printer.write(message)
        except OSError:  # BrokenPipeError and the like: nobody reads the output any more
            self._output_lost = True


def _signal_group(pgid: int, signum: int) -> None:
    """Signal a process's session (its group), which may be gone already."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
