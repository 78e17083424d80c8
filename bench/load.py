"""Load from threads: closed loop (each thread sends again as soon as it has an answer) and
paced (calls due at a fixed rate, latency counted from when each was due)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Call = Callable[[], None]


@dataclass
class Load:
    """What a load run saw: per-call latencies in seconds and the wall time of the run."""

    latencies: list[float] = field(default_factory=list)
    #: Paced runs only: latency counted from when the call was due, not from when it went out.
    from_due: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Calls per second over the run."""
        return len(self.latencies) / self.elapsed


def _run_threads(threads: int, body: Callable[[], None]) -> float:
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            body()
        except BaseException as error:  # surfaced in the caller's thread below
            errors.append(error)

    pool = [threading.Thread(target=guarded, name=f"bench-load-{n}") for n in range(threads)]
    began = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - began


def _tickets(calls: int) -> Callable[[], int | None]:
    lock, counter = threading.Lock(), iter(range(calls))

    def take() -> int | None:
        with lock:
            return next(counter, None)

    return take


def closed_loop(make_call: Callable[[], Call], calls: int, threads: int) -> Load:
    """``calls`` calls from ``threads`` threads, each with its own ``make_call()``."""
    load, take = Load(), _tickets(calls)

    def body() -> None:
        call = make_call()
        while take() is not None:
            sent = time.perf_counter()
            call()
            load.latencies.append(time.perf_counter() - sent)

    load.elapsed = _run_threads(threads, body)
    return load


def paced(make_call: Callable[[], Call], calls: int, rate: float, threads: int) -> Load:
    """``calls`` calls due every ``1/rate`` seconds, made by whichever of ``threads`` is free."""
    load, take = Load(), _tickets(calls)
    begin = time.perf_counter() + 0.05

    def body() -> None:
        call = make_call()
        while (ticket := take()) is not None:
            due = begin + ticket / rate
            if (pause := due - time.perf_counter()) > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            call()
            done = time.perf_counter()
            load.latencies.append(done - sent)
            load.from_due.append(done - due)

    load.elapsed = _run_threads(threads, body) - 0.05
    return load
