"""Sensitive payloads: a job type's sensitive fields are sealed by the producer (store and
message), opened only for the job and ``admin`` reads, redacted everywhere else, resealed under
a new key; a type that cannot keep them sealed fails at import."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from tasks.jobs.catalog import DIAG_NOOP, DIAG_SEALED, LimitedPayload, SealedPayload
from tasks.jobs.producer import JobRequest, prepare
from tests.support.channels import channel_settings, use_keys
from workers.errors import SealingUnavailable
from workers.jobtypes import ConcurrencyLimit, JobType
from workers.observability.logging import JsonFormatter
from workers.observability.redaction import mask, mask_mapping, redacting
from workers.sealing import new_key
from workers.sensitive import (
    REDACTED,
    SEALED,
    clear_texts,
    opened_payload,
    redacted_payload,
    resealed_payload,
    sealed_args_repr,
    sealed_payload,
)

SECRET = "hunter2-correct-horse-battery"
CLEAR = {"account": "acme", "secret": SECRET, "fail": False}


KEY = new_key()


@pytest.fixture
def settings() -> Iterator[pytest.MonkeyPatch]:
    """Settings with one data key, :data:`KEY`, read afresh before and after."""
    with channel_settings(TASKYARD_SECRET_KEYS=KEY) as patch:
        yield patch


def test_only_the_sensitive_fields_are_sealed_and_they_open_intact(
    settings: pytest.MonkeyPatch,
) -> None:
    # Given a diag.sealed payload, when the producer seals it
    stored = sealed_payload(DIAG_SEALED, CLEAR)

    # Then the secret is a token, the rest is in clear, and opening gives the payload back
    assert SECRET not in repr(stored)
    assert set(stored["secret"]) == {SEALED}
    assert stored["account"] == "acme"
    assert opened_payload(DIAG_SEALED, stored) == CLEAR
    assert redacted_payload(DIAG_SEALED, stored) == {**CLEAR, "secret": REDACTED}


def test_the_message_shows_redacted_args_not_tokens(settings: pytest.MonkeyPatch) -> None:
    stored = sealed_payload(DIAG_SEALED, CLEAR)

    shown = sealed_args_repr(stored)

    assert shown is not None
    assert REDACTED in shown
    assert "acme" in shown
    assert stored["secret"][SEALED] not in shown
    assert sealed_args_repr(CLEAR) is None  # nothing sealed: Celery's own repr


def test_prepare_seals_what_it_stores_and_dedupes_on_the_clear_payload(
    settings: pytest.MonkeyPatch,
) -> None:
    request = JobRequest("diag.sealed", CLEAR, idempotency_key="k1")

    first, second = prepare(request), prepare(request)

    assert SECRET not in repr(first.new.payload)
    assert first.new.payload["secret"] != second.new.payload["secret"]  # a fresh token each time
    assert first.dedupe is not None
    assert second.dedupe is not None
    assert first.dedupe.request_hash == second.dedupe.request_hash  # the same request, still
    assert prepare(JobRequest("diag.noop")).new.payload == {}  # other types untouched


def test_without_a_key_a_sensitive_job_is_refused_not_stored_in_clear(
    settings: pytest.MonkeyPatch,
) -> None:
    use_keys(settings)

    with pytest.raises(SealingUnavailable, match="TASKYARD_SECRET_KEYS is not set"):
        prepare(JobRequest("diag.sealed", CLEAR))
    assert prepare(JobRequest("diag.noop")).new.payload == {}


def test_a_rotation_reseals_under_the_new_key_and_seals_clear_fields(
    settings: pytest.MonkeyPatch,
) -> None:
    old = sealed_payload(DIAG_SEALED, CLEAR)
    newer = new_key()
    use_keys(settings, newer, KEY)

    rotated = resealed_payload(DIAG_SEALED, old)
    from_clear = resealed_payload(DIAG_SEALED, CLEAR)  # stored before the type was sensitive

    use_keys(settings, newer)
    assert rotated is not None
    assert from_clear is not None
    assert opened_payload(DIAG_SEALED, rotated) == CLEAR
    assert opened_payload(DIAG_SEALED, from_clear) == CLEAR
    assert resealed_payload(DIAG_NOOP, {}) is None
    with pytest.raises(SealingUnavailable, match="no key in TASKYARD_SECRET_KEYS opens"):
        opened_payload(DIAG_SEALED, old)


def test_while_a_job_runs_its_values_are_masked_in_logs_errors_and_events(
    settings: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    texts = clear_texts(DIAG_SEALED, CLEAR)

    with redacting(texts), caplog.at_level(logging.INFO):
        logging.getLogger("a.library").info("connecting with %s", SECRET)
        masked = mask(f"refused {SECRET}")
        event = mask_mapping({"exception": {"values": [{"value": f"refused {SECRET}"}]}})
        try:
            raise RuntimeError(SECRET)
        except RuntimeError:
            record = logging.LogRecord("job", logging.ERROR, "", 1, "boom", None, sys.exc_info())
            line = JsonFormatter().format(record)

    assert texts == [SECRET]
    assert "connecting with ***" in caplog.text
    for shown in (caplog.text, masked, repr(event), line):
        assert SECRET not in shown
    assert mask(f"after {SECRET}") == f"after {SECRET}"  # only while it runs


@pytest.mark.parametrize(
    ("sensitive", "concurrency", "problem"),
    [
        (("nope",), None, "fields the payload does not have"),
        ((), None, "fields the payload does not have"),
        (("tenant",), ConcurrencyLimit("tenant", 2), "concurrency key"),
        (True, ConcurrencyLimit("tenant", 2), "concurrency key"),
    ],
)
def test_a_type_that_cannot_keep_its_fields_sealed_fails_at_import(
    sensitive: bool | tuple[str, ...], concurrency: ConcurrencyLimit | None, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        JobType("x.y", LimitedPayload, "", sensitive=sensitive, concurrency=concurrency)


def test_a_wholly_sensitive_type_seals_every_field(settings: pytest.MonkeyPatch) -> None:
    whole = JobType("x.whole", SealedPayload, "", sensitive=True)

    stored = sealed_payload(whole, CLEAR)

    assert all(set(value) == {SEALED} for value in stored.values())
    assert opened_payload(whole, stored) == CLEAR
