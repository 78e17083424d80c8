"""The job-type registry and retry policies."""

from __future__ import annotations

import random

import pytest
from pydantic import BaseModel

from tasks.jobs.catalog import CATALOG, DIAG_FAIL, TransientDiagFailure
from workers.app import app
from workers.errors import UnknownJobType
from workers.jobtypes import JobType, JobTypeRegistry, RetryPolicy


class Empty(BaseModel):
    pass


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownJobType, match=r"unknown job type 'os\.system'.*diag\.noop"):
        CATALOG.get("os.system")


@pytest.mark.parametrize("name", ["noop", "Diag.noop", "diag.", "diag noop"])
def test_names_must_be_family_dot_action(name: str) -> None:
    with pytest.raises(ValueError, match=r"family\.action"):
        JobType(name, Empty, "x")


def test_soft_limit_must_be_below_hard_limit() -> None:
    with pytest.raises(ValueError, match="soft time limit"):
        JobType("a.b", Empty, "x", time_limit_s=10, soft_time_limit_s=10)


def test_a_type_cannot_be_registered_twice() -> None:
    job_type = JobType("a.b", Empty, "x")
    with pytest.raises(ValueError, match="registered twice"):
        JobTypeRegistry([job_type, job_type])


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(transient=(OSError,), backoff_base_s=1, backoff_cap_s=10)
    rng = random.Random(1)

    delays = [[policy.delay_for(n, rng) for _ in range(200)] for n in range(6)]

    assert all(0 <= d <= 1 for d in delays[0])
    assert max(delays[2]) <= 4
    assert max(delays[2]) > 2
    assert max(delays[5]) <= 10


def test_every_catalogued_type_has_a_registered_task_with_its_limits() -> None:
    app.loader.import_default_modules()
    for job_type in CATALOG:
        task = app.tasks[job_type.name]
        assert task.time_limit == job_type.time_limit_s
        assert task.soft_time_limit == job_type.soft_time_limit_s
    assert DIAG_FAIL.max_attempts == 4
    assert DIAG_FAIL.retry is not None
    assert DIAG_FAIL.retry.transient == (TransientDiagFailure,)


def test_rate_limits_are_parsed_when_the_type_is_declared() -> None:
    job_type = JobType("a.b", Empty, "x", rate_limit="100/minute")

    assert job_type.rate_limit_item is not None
    assert job_type.rate_limit_item.amount == 100
    with pytest.raises(ValueError, match="couldn't parse"):
        JobType("a.c", Empty, "x", rate_limit="lots")
