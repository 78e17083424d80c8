"""The dispatcher running in a thread of the test process, on the module's store and broker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from workers.dispatcher import Dispatcher


@contextmanager
def running_dispatcher() -> Iterator[Dispatcher]:
    """Dispatch due jobs and reap lost ones until the block ends."""
    dispatcher = Dispatcher()
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield dispatcher
    finally:
        stop.set()
        thread.join(timeout=10)
