"""The guards a delivery passes, on the real Redis: a circuit breaker per endpoint and a rate
limit per channel, each one state for every process."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest
from prometheus_client import REGISTRY

from tasks.notifications.guards import (
    BreakerAnswer,
    BreakerState,
    ask_breaker,
    breaker_key,
    breaker_status,
    rate_wait_s,
    record_result,
    reset_breaker,
)
from tests.support.services import RedisServer
from tests.support.waiting import wait_for
from workers.redis_client import shared_redis
from workers.settings import get_settings

FAILURES = 3
RESET_S = 0.5
LIMIT = 20
PER_PROCESS = 30
GUARDS_LOGGER = "tasks.notifications.guards"


@pytest.fixture(scope="module")
def guards_env(redis_service: RedisServer, redis_db: int) -> Iterator[None]:
    """Settings on this module's own Redis database, with a short reset time."""
    url = redis_service.url(redis_db)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "TASKYARD_BROKER_URL": url,
            "TASKYARD_REDIS_URL": url,
            "TASKYARD_BREAKER_FAILURES": str(FAILURES),
            "TASKYARD_BREAKER_RESET_S": str(RESET_S),
            "TASKYARD_NOTIFY_TIMEOUT_S": "1",
        }.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
def endpoint(guards_env: None, request: pytest.FixtureRequest) -> Iterator[str]:
    """An endpoint of this test alone, closed at the start."""
    name = f"https://{request.node.name.replace('_', '-')[:50]}.example:443"
    reset_breaker(name)
    yield name
    reset_breaker(name)


def opened_count(endpoint: str) -> float:
    labels = {"endpoint": endpoint, "state": "open"}
    return REGISTRY.get_sample_value("taskyard_breaker_transitions_total", labels) or 0.0


def actions(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [getattr(r, "action", "") for r in caplog.records if r.name == GUARDS_LOGGER]


def half_open(endpoint: str) -> bool:
    return breaker_status(endpoint).wait_s == 0


def fail(endpoint: str, times: int) -> None:
    for _ in range(times):
        record_result(endpoint, ok=False)


def test_a_breaker_opens_refuses_half_opens_and_closes(
    endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = opened_count(endpoint)
    caplog.set_level(logging.INFO, logger=GUARDS_LOGGER)

    # Given a closed breaker that sees one failure fewer than opens it
    fail(endpoint, FAILURES - 1)
    assert ask_breaker(endpoint).wait_s is None

    # When one more retryable failure comes
    fail(endpoint, 1)

    # Then it is open: callers wait, at most the reset time
    wait_s = ask_breaker(endpoint).wait_s
    assert wait_s is not None
    assert 0 < wait_s <= RESET_S
    assert breaker_status(endpoint).state is BreakerState.OPEN
    assert opened_count(endpoint) == before + 1
    assert actions(caplog) == ["breaker.open"]

    # When the reset time has passed, one caller is the trial and the next waits for it
    wait_for(lambda: half_open(endpoint), timeout=5, what="the reset time")
    assert ask_breaker(endpoint).wait_s is None
    assert breaker_status(endpoint).state is BreakerState.HALF_OPEN
    assert ask_breaker(endpoint).wait_s is not None

    # Then the trial's success closes it and forgets the failures
    record_result(endpoint, ok=True)
    assert breaker_status(endpoint).state is BreakerState.CLOSED
    assert breaker_status(endpoint).failures == 0
    assert ask_breaker(endpoint).wait_s is None
    assert actions(caplog) == ["breaker.open", "breaker.half_open", "breaker.closed"]
    assert all(endpoint in r.getMessage() for r in caplog.records if r.name == GUARDS_LOGGER)


def test_a_failed_trial_opens_it_again(endpoint: str) -> None:
    fail(endpoint, FAILURES)
    wait_for(lambda: half_open(endpoint), timeout=5, what="the reset time")
    assert ask_breaker(endpoint).wait_s is None  # the trial

    record_result(endpoint, ok=False)

    assert breaker_status(endpoint).state is BreakerState.OPEN
    wait_s = ask_breaker(endpoint).wait_s
    assert wait_s is not None
    assert 0 < wait_s <= RESET_S


def test_a_success_after_a_quiet_ask_is_not_recorded(endpoint: str) -> None:
    # Given a breaker with nothing counted: a send may go, and is told it is quiet
    answer = ask_breaker(endpoint)
    assert answer == BreakerAnswer(None, quiet=True)

    # When a failure is counted while that send is in flight, and then the send succeeds
    fail(endpoint, 1)
    record_result(endpoint, ok=True, quiet=answer.quiet)

    # Then the success wrote nothing: the failure it overlapped stays counted
    assert breaker_status(endpoint).failures == 1

    # And a send asked now is not quiet, so its success forgets the failure
    answer = ask_breaker(endpoint)
    assert answer == BreakerAnswer(None, quiet=False)
    record_result(endpoint, ok=True, quiet=answer.quiet)
    assert breaker_status(endpoint).failures == 0
    assert shared_redis(get_settings().locks_url).exists(breaker_key(endpoint)) == 0


def test_a_success_between_failures_starts_the_count_again(endpoint: str) -> None:
    fail(endpoint, FAILURES - 1)
    record_result(endpoint, ok=True)
    fail(endpoint, FAILURES - 1)

    assert breaker_status(endpoint).state is BreakerState.CLOSED
    assert ask_breaker(endpoint).wait_s is None


def test_every_breaker_key_expires_and_a_reset_closes_it(endpoint: str) -> None:
    client = shared_redis(get_settings().locks_url)
    fail(endpoint, 1)
    assert client.pttl(breaker_key(endpoint)) > 0
    fail(endpoint, FAILURES)
    assert client.pttl(breaker_key(endpoint)) > 0
    wait_for(lambda: half_open(endpoint), timeout=5, what="the reset time")
    ask_breaker(endpoint)
    assert client.pttl(breaker_key(endpoint)) > 0

    assert reset_breaker(endpoint) is True
    assert breaker_status(endpoint).state is BreakerState.CLOSED
    assert reset_breaker(endpoint) is False


# Run in other processes (spawned: a fresh interpreter each, no state shared but Redis).
def _fail(endpoint: str, times: int) -> None:
    fail(endpoint, times)


def _wait_s(endpoint: str) -> float | None:
    return ask_breaker(endpoint).wait_s


def _take_permits(channel: str, count: int) -> list[tuple[float, float]]:
    """``count`` permits of ``channel``, each as (time before asking, time granted)."""
    granted: list[tuple[float, float]] = []
    deadline = time.monotonic() + 20
    while len(granted) < count and time.monotonic() < deadline:
        asked = time.time()
        wait_s = rate_wait_s(channel, f"{LIMIT}/second")
        if wait_s is None:
            granted.append((asked, time.time()))
        else:
            time.sleep(min(wait_s, 0.1))
    return granted


def spawned(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def test_other_processes_see_the_same_breaker(endpoint: str) -> None:
    with spawned(2) as pool:
        # Given another process sees enough failures to open the breaker
        pool.submit(_fail, endpoint, FAILURES).result(timeout=60)

        # Then this one is refused too
        assert ask_breaker(endpoint).wait_s is not None

        # When this one becomes the trial, a third process waits for it
        wait_for(lambda: half_open(endpoint), timeout=5, what="the reset time")
        assert ask_breaker(endpoint).wait_s is None
        assert pool.submit(_wait_s, endpoint).result(timeout=60) is not None

        # And when the trial goes through, the other processes send again
        record_result(endpoint, ok=True)
        assert pool.submit(_wait_s, endpoint).result(timeout=60) is None


def test_a_channel_limit_holds_across_processes(guards_env: None) -> None:
    channel = "shared-limit"

    # Given two processes taking permits of one channel limited to 20 a second
    with spawned(2) as pool:
        runs = [pool.submit(_take_permits, channel, PER_PROCESS) for _ in range(2)]
        grants = sorted(g for run in runs for g in run.result(timeout=60))

    # Then each got its permits, and no 21 of them fit in one second: for any 21 in a row,
    # the last granted (after) is at least a second after the first asked (before)
    assert len(grants) == 2 * PER_PROCESS
    for i in range(len(grants) - LIMIT):
        window = grants[i : i + LIMIT + 1]
        assert max(after for _, after in window) - window[0][0] >= 1.0, f"window at {i}"
    # and 60 permits at 20 a second took at least 2 seconds
    assert grants[-1][1] - grants[0][0] >= 2.0
