"""When ``taskyard workers check`` calls a worker stalled or not consuming: a table of what the
worker answered and what waits in its queues."""

from __future__ import annotations

from dataclasses import replace

import pytest

from workers.worker_control import QueueState, WorkerView, missing_profiles, worker_problems

STALL_AFTER_S = 60.0
#: A default worker with one of two slots free, whose consumer fetched 5 s ago.
HEALTHY = WorkerView(
    node="default@h", own=("default",), consuming=("default",), concurrency=2, held=1,
    active=1, processed=10, uptime_s=600.0, fetch_age_s=5.0,
)  # fmt: skip
WAITING = {"default": QueueState("default", depth=3, oldest_age_s=120.0)}
EMPTY = {"default": QueueState("default", depth=0, oldest_age_s=0.0)}


@pytest.mark.parametrize(
    ("case", "worker", "queues", "problem"),
    [
        ("fetching while jobs wait", HEALTHY, WAITING, None),
        ("idle on an empty queue", replace(HEALTHY, fetch_age_s=900.0), EMPTY, None),
        ("stalled", replace(HEALTHY, fetch_age_s=900.0), WAITING, "default@h is stalled"),
        ("every slot taken", replace(HEALTHY, held=2, fetch_age_s=900.0), WAITING, None),
        ("store lost the age", replace(HEALTHY, fetch_age_s=900.0),
         {"default": QueueState("default", 3, 0.0)}, None),
        ("recent jobs only", replace(HEALTHY, fetch_age_s=900.0),
         {"default": QueueState("default", 3, 30.0)}, None),
        ("consumer cancelled", replace(HEALTHY, consuming=()), EMPTY,
         "default@h does not consume default, which is not paused"),
        ("queue paused", replace(HEALTHY, consuming=()),
         {"default": QueueState("default", 3, 900.0, paused=True)}, None),
    ],
)  # fmt: skip
def test_worker_problems(
    case: str, worker: WorkerView, queues: dict[str, QueueState], problem: str | None
) -> None:
    found = worker_problems(worker, queues, STALL_AFTER_S)

    if problem is None:
        assert found == [], case
    else:
        assert len(found) == 1, case
        assert found[0].startswith(problem), (case, found)


def test_a_profile_without_an_answering_worker_is_named() -> None:
    assert missing_profiles([HEALTHY], ["default"]) == []
    (line,) = missing_profiles([HEALTHY], ["default", "bulk"])
    assert line.startswith("no bulk worker answers (queues bulk)")
