"""Logs are JSON with the job and correlation ids; secrets never reach a log line."""

from __future__ import annotations

import json
import logging

import pytest

from workers.jobtask import queue_of
from workers.observability import context
from workers.observability.logging import JsonFormatter
from workers.observability.scrub import scrub_mapping, scrub_text


def test_url_passwords_bearer_tokens_and_keys_are_masked() -> None:
    text = (
        "broker redis://:hunter2@cache:6379/0 db postgresql+psycopg2://app:s3cret@db/t "
        "Authorization: Bearer tyk_abcdefghijklmnop and tyk_qrstuvwxyz012345"
    )

    scrubbed = scrub_text(text)

    for secret in ("hunter2", "s3cret", "abcdefghijklmnop", "qrstuvwxyz012345"):
        assert secret not in scrubbed
    assert "redis://:***@cache:6379/0" in scrubbed


def test_secret_looking_keys_are_masked_recursively() -> None:
    event = {"request": {"headers": {"Authorization": "Bearer x", "Accept": "json"}}, "n": 1}

    assert scrub_mapping(event) == {
        "request": {"headers": {"Authorization": "***", "Accept": "json"}},
        "n": 1,
    }


def test_json_lines_carry_action_job_and_correlation_ids() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "job %s", ("started",), None)
    record.action = "job.started"
    job_token = context.job_id.set("j-1")
    cid_token = context.correlation_id.set("c-1")
    try:
        line = JsonFormatter().format(record)
    finally:
        context.job_id.reset(job_token)
        context.correlation_id.reset(cid_token)

    entry = json.loads(line)
    assert entry["message"] == "job started"
    assert entry["action"] == "job.started"
    assert entry["job_id"] == "j-1"
    assert entry["correlation_id"] == "c-1"
    assert entry["level"] == "info"


def test_text_without_a_secret_marker_is_returned_as_it_is() -> None:
    text = "job.started diag.noop on default, attempt 1"
    assert scrub_text(text) is text
    assert scrub_text("BEARER abc.def") == "BEARER ***"  # the screen ignores case, as the masks do


@pytest.mark.parametrize(
    "header", ["x" * 65, {"a": 1}, ["id"], 12345, "line\nbreak", "a\x00b", "\x1b[31m", None, ""]
)
def test_a_message_header_is_a_correlation_id_only_when_acceptable(header: object) -> None:
    assert context.acceptable_correlation_id(header) is None
    assert context.acceptable_correlation_id("req-1.a:b_c") == "req-1.a:b_c"


@pytest.mark.parametrize(
    ("delivery_info", "queue"),
    [
        ({"routing_key": "high"}, "high"),
        ({"routing_key": "x" * 10_000}, ""),
        ({"routing_key": ["default"]}, ""),
        ({"routing_key": {"a": 1}}, ""),
        ({"routing_key": None}, ""),
        ("default", ""),
        (None, ""),
    ],
)
def test_only_a_known_queue_is_taken_from_a_message_routing_key(
    delivery_info: object, queue: str
) -> None:
    # a crafted routing key would otherwise be a log field and a metric label of its own
    assert queue_of(delivery_info) == queue
