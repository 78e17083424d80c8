"""A channel's rate limit holds across worker processes: two workers sending 200 messages to
a channel limited to 20 a second take at least 9 seconds, and send each message once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.notifications import deliveries, notify, store
from tasks.notifications.channels import parse_config
from tasks.notifications.deliveries import DeliveryFilter
from tasks.notifications.notify import NotificationRequest
from tasks.notifications.states import FINISHED, DeliveryStatus
from tests.support.channels import channel_settings
from tests.support.dispatcher import running_dispatcher
from tests.support.processes import celery_worker_command, running, wait_worker_ready
from tests.support.sinks import HttpSink, http_sink
from tests.support.waiting import wait_for
from workers.store import jobs

pytestmark = pytest.mark.e2e
SECRET = "whsec-rate-limit-0123456789"
MESSAGES = 200
CHANNEL = "limited"
#: The workers log at INFO, so they say when they are ready.
INFO = {"TASKYARD_LOG_LEVEL": "INFO"}


@pytest.fixture(scope="module")
def database_url(preferred_database_url: str) -> str:
    return preferred_database_url


@pytest.fixture
def sink(runtime: dict[str, str]) -> Iterator[HttpSink]:
    with channel_settings(TASKYARD_DISPATCHER_INTERVAL_S="0.2"), http_sink(SECRET) as running_sink:
        yield running_sink


def _finished() -> int:
    records = deliveries.page(DeliveryFilter(channel=CHANNEL), None, MESSAGES + 1)
    return sum(1 for d in records if DeliveryStatus(d.status) in FINISHED)


def test_two_workers_keep_a_channel_to_its_rate_limit(sink: HttpSink, tmp_path: Path) -> None:
    # Given a channel limited to 20 sends a second, and two worker processes
    config = {"kind": "webhook", "url": f"{sink.url}/in", "secret": SECRET,
              "rate_limit": "20/second"}  # fmt: skip
    store.create_channel(CHANNEL, parse_config(config))
    first = celery_worker_command(["default"], "first", concurrency=2)
    second = celery_worker_command(["default"], "second", concurrency=2)
    with (
        running(first, tmp_path / "first.log", INFO) as one,
        running(second, tmp_path / "second.log", INFO) as two,
        running_dispatcher(),
    ):
        wait_worker_ready(one, tmp_path / "first.log")
        wait_worker_ready(two, tmp_path / "second.log")

        # When 200 messages are sent to it
        began = time.monotonic()
        for n in range(MESSAGES):
            notify.send(NotificationRequest(channels=(CHANNEL,), subject=f"m{n}", text="t"))
        wait_for(lambda: len(sink.received) >= MESSAGES, timeout=90, interval=0.01,
                 what="every message at the sink")  # fmt: skip
        took = time.monotonic() - began
        wait_for(lambda: _finished() == MESSAGES, timeout=30, what="every delivery settled")

    # Then they took at least 9 seconds (20 a second, whichever worker sent them)
    assert took >= 9.0, f"200 messages at 20/second arrived in {took:.1f} s"
    # And each was sent once, by both workers
    records = deliveries.page(DeliveryFilter(channel=CHANNEL), None, MESSAGES + 1)
    assert Counter(d.status for d in records) == {"sent": MESSAGES}
    received = Counter(r.headers["Idempotency-Key"] for r in sink.received)
    assert received == Counter({d.message_key: 1 for d in records})
    assert not sink.refused
    workers = {jobs.get_job(d.job_id).worker or "" for d in records}
    assert {worker.split("@")[0] for worker in workers} == {"first", "second"}
