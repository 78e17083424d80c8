"""SIGKILL a worker in a burst of 200 webhook deliveries to a slow receiver, with sends in
flight: on an idempotent channel every delivery still ends `sent` and the receiver acts on
each exactly once; on any other channel the interrupted ones end `failed` with the outcome
unknown, and none is sent twice."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tasks.notifications import deliveries, notify, store
from tasks.notifications.channels import parse_config
from tasks.notifications.decision import OUTCOME_UNKNOWN
from tasks.notifications.deliveries import DeliveryFilter, DeliveryRecord
from tasks.notifications.notify import NotificationRequest
from tasks.notifications.states import FINISHED, DeliveryStatus
from tests.support.channels import channel_settings
from tests.support.dispatcher import running_dispatcher
from tests.support.processes import celery_worker_command, running
from tests.support.sinks import HttpSink, http_sink
from tests.support.waiting import wait_for
from workers.store.engine import session_scope
from workers.store.models import Delivery

SECRET = "whsec-chaos-0123456789abcdef"
BURST = 200
CONCURRENCY = 4
#: Messages a prefork worker reserves beyond those it runs (``worker_prefetch_multiplier=1``).
PREFETCH = CONCURRENCY
#: How long the receiver holds each answer, so a kill surely lands while sends wait on it.
ANSWER_DELAY_S = 0.03


@pytest.fixture
def sink(chaos_runtime: None) -> Iterator[HttpSink]:
    with channel_settings(), http_sink(SECRET) as running_sink:
        running_sink.delay_s = ANSWER_DELAY_S
        running_sink.dedup = True
        yield running_sink


def _channel(sink: HttpSink, name: str, **settings: object) -> None:
    config = {"kind": "webhook", "url": f"{sink.url}/{name}", "secret": SECRET, **settings}
    store.create_channel(name, parse_config(config))


def _deliveries(channel: str) -> list[DeliveryRecord]:
    return deliveries.page(DeliveryFilter(channel=channel), None, BURST + 1)


def _count(channel: str, *statuses: DeliveryStatus) -> int:
    query = select(func.count()).where(
        Delivery.channel_name == channel, Delivery.status.in_([s.value for s in statuses])
    )
    with session_scope() as session:
        return int(session.scalar(query) or 0)


def _burst_killed_mid_send(sink: HttpSink, channel: str, logs: Path) -> int:
    """Send the burst through a worker, SIGKILL it (pool and all) while the receiver holds
    answers, and finish it with a second worker; returns how many were caught `sending`."""
    for n in range(BURST):
        notify.send(NotificationRequest(channels=(channel,), subject=f"burst {n}", text="t"))
    with running_dispatcher():
        victim_command = celery_worker_command(["default"], "victim", CONCURRENCY)
        with running(victim_command, logs / "victim.log") as victim:
            wait_for(lambda: len(sink.processed) >= 20, timeout=60, what="the burst under way")
            wait_for(lambda: sink.in_flight >= 2, timeout=10, interval=0.002, what="sends held")

            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
        caught = _count(channel, DeliveryStatus.SENDING)

        replacement = celery_worker_command(["default"], "replacement", CONCURRENCY)
        with running(replacement, logs / "replacement.log"):
            wait_for(lambda: _count(channel, *FINISHED) == BURST, timeout=120, interval=0.2,
                     what="every delivery to finish")  # fmt: skip
    return caught


def test_an_idempotent_channel_sends_every_delivery_through_a_sigkill(
    sink: HttpSink, tmp_path: Path
) -> None:
    # Given an idempotent channel whose receiver drops a repeated Idempotency-Key
    _channel(sink, "chaos-idempotent", idempotent=True)

    # When its worker is killed mid-burst and another takes over
    caught = _burst_killed_mid_send(sink, "chaos-idempotent", tmp_path)

    # Then every delivery is sent, and the receiver acted on each exactly once
    records = _deliveries("chaos-idempotent")
    assert Counter(d.status for d in records) == {"sent": BURST}
    keys = {d.message_key for d in records}
    assert Counter(sink.processed) == Counter(dict.fromkeys(keys, 1))
    # And only sends cut off by the kill reached it twice; those were sent again
    assert caught >= 1
    assert sum(1 for d in records if d.attempts == 2) >= 1
    assert max(d.attempts for d in records) <= 2
    duplicates = len(sink.received) - BURST
    assert duplicates <= CONCURRENCY + PREFETCH
    assert not sink.refused


def test_a_channel_that_is_not_idempotent_never_sends_twice_through_a_sigkill(
    sink: HttpSink, tmp_path: Path
) -> None:
    # Given a channel that does not say its receiver deduplicates
    _channel(sink, "chaos-plain")

    # When its worker is killed mid-burst and another takes over
    caught = _burst_killed_mid_send(sink, "chaos-plain", tmp_path)

    # Then the deliveries caught mid-send failed with the outcome unknown, the rest were sent
    records = _deliveries("chaos-plain")
    lost = [d for d in records if d.status == DeliveryStatus.FAILED]
    assert 1 <= len(lost) == caught <= CONCURRENCY
    assert {d.error_class for d in lost} == {OUTCOME_UNKNOWN}
    assert Counter(d.status for d in records) == {"sent": BURST - len(lost), "failed": len(lost)}
    # And the receiver got no delivery twice: every sent one once, a lost one at most once
    received = Counter(r.headers["Idempotency-Key"] for r in sink.received)
    assert max(received.values()) == 1
    assert all(received[d.message_key] == 1 for d in records if d.status == "sent")
    assert not sink.refused
