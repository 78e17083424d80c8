"""What "the same request" is under an idempotency key: every field of the request counts, by
construction. No store or broker is reached (``prepare`` does no I/O)."""

from __future__ import annotations

import inspect
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from api.client import Client, JobOptions
from api.schemas import JobIn
from tasks.jobs.producer import NOT_HASHED, JobRequest, prepare

BASE = JobRequest(
    "diag.fail",
    {"message": "x"},
    idempotency_key="order-1",
    unique_key="u-1",
    unique_for_s=60,
)
IN_A_DAY = datetime.now(UTC) + timedelta(days=1)
#: For every field of a request, another value that asks for something else. A field added to
#: JobRequest fails ``test_every_field_is_listed`` until it gets a line here.
CHANGED: dict[str, Any] = {
    "type": "diag.sleep",
    "payload": {"message": "y"},
    "queue": "bulk",
    "priority": 9,
    "delay_s": 60,
    "run_at": IN_A_DAY,
    "unique_key": "u-2",
    "unique_for_s": 120,
}


#: Settings point at a scratch store, in case a check let something reach for it.
pytestmark = pytest.mark.usefixtures("scratch_store")


def request_hash(request: JobRequest) -> str:
    dedupe = prepare(request).dedupe
    assert dedupe is not None
    return dedupe.request_hash


def test_every_field_is_listed() -> None:
    assert set(CHANGED) == {f.name for f in fields(JobRequest)} - NOT_HASHED


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_changing_any_field_changes_the_hash(name: str) -> None:
    # Given the same key on a request that differs in one field
    value = CHANGED[name]
    if name == "type":
        changed = replace(BASE, type=value, payload={"ms": 1})
    else:
        changed = replace(BASE, **{name: value})

    # Then it is another request: the key conflicts instead of returning the first job
    assert request_hash(changed) != request_hash(BASE)


def test_the_same_delay_asked_again_later_is_the_same_request() -> None:
    delayed = replace(BASE, delay_s=60)
    first = prepare(delayed)
    again = prepare(replace(delayed, delay_s=60.0))

    assert first.new.run_at is not None
    assert again.new.run_at is not None
    assert again.new.run_at > first.new.run_at  # a later absolute time, the same request
    assert first.dedupe is not None
    assert again.dedupe is not None
    assert first.dedupe.request_hash == again.dedupe.request_hash
    assert request_hash(replace(BASE, delay_s=61)) != first.dedupe.request_hash


def test_one_instant_in_any_offset_is_the_same_request() -> None:
    paris = IN_A_DAY.astimezone(timezone(timedelta(hours=1)))

    assert request_hash(replace(BASE, run_at=paris)) == request_hash(replace(BASE, run_at=IN_A_DAY))


def test_defaults_given_or_left_out_ask_for_the_same_job() -> None:
    # diag.fail: queue default, priority 5, transient false by default
    explicit = replace(BASE, payload={"message": "x", "transient": False}, queue="default")

    assert request_hash(replace(explicit, priority=5)) == request_hash(BASE)
    assert request_hash(replace(BASE, delay_s=0)) == request_hash(BASE)


def test_the_key_itself_is_not_part_of_the_request() -> None:
    assert request_hash(replace(BASE, idempotency_key="order-2")) == request_hash(BASE)


def test_the_api_and_the_client_carry_every_request_field() -> None:
    requested = {f.name for f in fields(JobRequest)}
    named = set(inspect.signature(Client.submit).parameters) - {"self", "options"}
    client = named | set(JobOptions.__annotations__) - {"correlation_id"}

    assert set(JobIn.model_fields) == requested
    assert client == requested
    assert JobIn(type="diag.noop", delay_s=5).to_request("k") == JobRequest(
        "diag.noop", delay_s=5, idempotency_key="k"
    )
