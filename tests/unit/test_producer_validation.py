"""NUL characters are refused by the producer, so the API, the CLI and Python callers all get
a clean ``InvalidJob`` (PostgreSQL cannot store a NUL). No store or broker is reached."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tasks.jobs.producer import JobRequest, Rejected, enqueue_many, submit
from workers.errors import InvalidJob

#: Settings point at a scratch store, in case a check let something reach for it.
pytestmark = pytest.mark.usefixtures("scratch_store")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "diag.noop\x00"}, "type"),
        ({"payload": {"message": "disk\x00full"}}, "message"),
        ({"payload": {"a": [1, {"b": ["ok", "\x00"]}]}}, "a.1.b.1"),
        ({"payload": {"\x00": 1}}, "payload"),
        ({"payload": {"a": {"k\x00": 1}}}, "a"),
        ({"idempotency_key": "order\x00"}, "idempotency_key"),
        ({"unique_key": "\x00", "unique_for_s": 5}, "unique_key"),
    ],
)
def test_a_nul_anywhere_is_an_invalid_job_naming_where(fields: dict[str, Any], field: str) -> None:
    request = JobRequest(**{"type": "diag.fail", "payload": {"message": "x"}, **fields})

    with pytest.raises(InvalidJob, match=r"must not contain NUL") as caught:
        submit(request)

    assert [item["field"] for item in caught.value.details] == [field]


def test_a_batch_rejects_the_item_with_a_nul() -> None:
    outcomes = enqueue_many([JobRequest("diag.fail", {"message": "\x00"})])

    assert len(outcomes) == 1
    rejected = outcomes[0]
    assert isinstance(rejected, Rejected)
    assert rejected.error.code == "invalid_job"


def test_unique_window_is_bounded() -> None:
    with pytest.raises(InvalidJob, match="unique_for_s must be between"):
        submit(JobRequest("diag.noop", unique_for_s=10**9))


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"payload": {"message": "x", "n": 2**64}}, "n", "64 bits"),
        ({"payload": {"message": "x", "n": float("nan")}}, "n", "finite"),
        ({"payload": {"message": "\ud800"}}, "message", "surrogate"),
        ({"idempotency_key": "k" * 201}, "idempotency_key", "at most 200 characters"),
        ({"unique_key": "k" * 201, "unique_for_s": 5}, "unique_key", "at most 200 characters"),
    ],
)
def test_what_either_store_cannot_hold_is_an_invalid_job(
    fields: dict[str, Any], field: str, problem: str
) -> None:
    request = JobRequest(**{"type": "diag.fail", "payload": {"message": "x"}, **fields})

    with pytest.raises(InvalidJob, match=problem) as caught:
        submit(request)

    assert [item["field"] for item in caught.value.details] == [field]


def test_a_deep_payload_is_refused_before_its_model_sees_it() -> None:
    payload: dict[str, Any] = {}
    for _ in range(10_000):
        payload = {"a": payload}

    with pytest.raises(InvalidJob, match="deeper than 32 levels"):
        submit(JobRequest("diag.noop", payload))


@pytest.mark.parametrize(
    "run_at",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
        datetime(2026, 1, 1),
    ],
)
def test_a_run_at_outside_the_store_range_or_without_a_zone_is_refused(run_at: datetime) -> None:
    with pytest.raises(InvalidJob, match=r"run_at: .*(outside the times|time zone)"):
        submit(JobRequest("diag.noop", run_at=run_at))


def test_a_correlation_id_longer_than_the_column_is_refused() -> None:
    with pytest.raises(InvalidJob, match="correlation_id must be at most 64"):
        submit(JobRequest("diag.noop"), correlation_id="c" * 65)
