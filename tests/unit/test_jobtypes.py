"""The job-type registry and retry policies."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tasks.jobs.catalog import CATALOG, DIAG_FAIL, TransientDiagFailure
from workers.app import app
from workers.errors import UnknownJobType
from workers.jobtypes import JobType, JobTypeRegistry, Payload, RetryPolicy

#: Per JSON Schema type, values lax validation would turn into it (and NaN, which JSON does
#: not have). A payload field of a type missing here fails the test until it is listed.
COERCIBLE: dict[str, list[Any]] = {
    "integer": ["100", True, 100.0, "1e2"],
    "number": ["1.5", True, float("nan"), float("inf")],
    "boolean": ["true", "yes", 1, 0, "on"],
    "string": [1, 1.5, True, b"bytes"],
}


class Empty(Payload):
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


def test_every_type_in_the_catalog_has_a_registered_task_with_its_limits() -> None:
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
    with pytest.raises(ValueError, match="is not a rate limit"):
        JobType("a.c", Empty, "x", rate_limit="lots")


def _json_types(schema: dict[str, Any]) -> list[str]:
    """The JSON types a field's schema admits (``null`` aside)."""
    options = schema.get("anyOf", [schema])
    return [option["type"] for option in options if option.get("type") != "null"]


@pytest.mark.parametrize("job_type", list(CATALOG), ids=lambda job_type: job_type.name)
def test_every_registered_payload_refuses_coercion_and_unknown_fields(job_type: JobType) -> None:
    model = job_type.payload_model
    properties = model.model_json_schema().get("properties", {})

    for name, schema in properties.items():
        types = _json_types(schema)
        assert types, (name, schema)
        assert all(kind in COERCIBLE for kind in types), (name, schema)
        for value in (v for kind in types for v in COERCIBLE[kind]):
            with pytest.raises(ValidationError) as caught:
                model.model_validate({name: value})
            locations = {e["loc"] for e in caught.value.errors() if e["type"] != "missing"}
            assert (name,) in locations, f"{job_type.name}.{name} accepted {value!r}"
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({"no_such_field": 1})


class Lax(BaseModel):
    ms: int


class Loosened(Payload):
    model_config = ConfigDict(strict=False)
    ms: int


class WithNaN(Payload):
    model_config = ConfigDict(allow_inf_nan=True)
    ratio: float


class LooseField(Payload):
    ms: int = Field(strict=False)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (Lax, "must derive from workers.jobtypes.Payload"),
        (Loosened, "must keep Payload's strict=True"),
        (WithNaN, "no NaN"),
        (LooseField, "must not turn strict mode off"),
    ],
)
def test_a_payload_model_that_coerces_cannot_be_registered(model: type[Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        JobType("a.b", model, "x")
