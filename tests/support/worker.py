"""A real Celery worker running in this process (threads), on the module's own broker."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker

from workers.app import app
from workers.observability.multiproc import setup_multiprocess_metrics
from workers.queues import QUEUE_ORDER


@contextmanager
def embedded_worker(
    queues: Sequence[str] = tuple(q.value for q in QUEUE_ORDER),
    concurrency: int = 2,
    hostname: str | None = None,
) -> Iterator[None]:
    """Consume ``queues`` (as node ``hostname``, Celery's test name when ``None``) until the
    block ends; stops (and joins) the worker afterwards."""
    # As a worker process does at start (worker_init, which the embedded worker does not send),
    # so its metrics can be read whatever ran before in this test process.
    setup_multiprocess_metrics()
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        queues=list(queues),
        loglevel="WARNING",
        shutdown_timeout=15,
        **({"hostname": hostname} if hostname else {}),
    ):
        yield
