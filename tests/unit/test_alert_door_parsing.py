"""What the Alertmanager door takes: Alertmanager's JSON as Prometheus sends it, its times
settled as Alertmanager settles them, and everything else refused (pure; the door itself is
in ``tests/integration/test_alert_door.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from api.alert_schemas import PostableAlert
from tasks.alerts.door import settle
from tests.support.channels import channel_settings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
#: An alert as Prometheus 2.x sends it.
SENT = {
    "labels": {"alertname": "Backlog", "queue": "bulk", "severity": "warning"},
    "annotations": {"summary": "bulk holds 11000"},
    "startsAt": "2026-12-07T11:59:30.123Z",
    "endsAt": "2026-12-07T12:04:00Z",
    "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
}


def test_an_alert_as_prometheus_sends_it_is_read_whole() -> None:
    alert = PostableAlert.model_validate(SENT)
    assert alert.labels == SENT["labels"]
    assert alert.starts_at == datetime(2026, 12, 7, 11, 59, 30, 123000, tzinfo=UTC)
    assert alert.ends_at == datetime(2026, 12, 7, 12, 4, tzinfo=UTC)
    assert alert.generator_url == SENT["generatorURL"]


def test_go_zero_times_count_as_missing() -> None:
    alert = PostableAlert.model_validate(
        {**SENT, "startsAt": "0001-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}
    )
    assert (alert.starts_at, alert.ends_at) == (None, None)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"labels": {}}, "labels"),
        ({"labels": {"9lives": "x"}}, "labels"),
        ({"labels": {"alertname": 1}}, "labels"),
        ({"labels": {"alertname": "x" * 1001}}, "labels"),
        ({"labels": {"alertname": "a\x00b"}}, "labels"),
        ({"annotations": {"summary": ["x"]}}, "annotations"),
        ({"startsAt": "2026-12-07T11:59:30"}, "startsAt"),
        ({"endsAt": "yesterday"}, "endsAt"),
        ({"status": "firing"}, "status"),
        ({"generatorURL": 5}, "generatorURL"),
    ],
)
def test_a_bad_alert_is_refused_naming_the_field(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PostableAlert.model_validate({**SENT, **change})
    assert where in str(refused.value.errors()[0]["loc"])


def test_missing_times_are_now_and_now_plus_the_resolve_timeout() -> None:
    with channel_settings(TASKYARD_ALERTS_RESOLVE_TIMEOUT_S="120"):
        posted = settle({"a": "b"}, {}, None, None, None, NOW)
    assert (posted.starts_at, posted.ends_at) == (NOW, NOW + timedelta(seconds=120))


def test_an_alert_that_ended_before_now_without_a_start_starts_when_it_ended() -> None:
    ended = NOW - timedelta(minutes=1)
    assert settle({"a": "b"}, {}, None, ended, None, NOW).starts_at == ended


def test_an_end_before_the_start_is_refused() -> None:
    with pytest.raises(ValueError, match="endsAt must not be before startsAt"):
        settle({"a": "b"}, {}, NOW, NOW - timedelta(seconds=1), None, NOW)
