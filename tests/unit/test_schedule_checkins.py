"""With a Sentry DSN, each fire of a cron entry sends a check-in carrying its monitor config."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk

from schedules import monitors
from tests.support.sentry_sink import sentry_sink
from workers.settings import Settings
from workers.store.models import Schedule


def check_ins(received: list[bytes]) -> list[dict[str, Any]]:
    """The check-in items of every envelope received so far."""
    items = []
    for envelope in received:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "check_in":
                items.append(json.loads(payload))
    return items


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    with sentry_sink() as (dsn, received):
        monkeypatch.setattr(monitors, "get_settings", lambda: Settings(sentry_dsn=dsn))
        sentry_sdk.init(dsn=dsn, environment="test")
        yield received


def test_cron_fires_check_in_ok_or_error_with_the_schedule(sentry: list[bytes]) -> None:
    # Given a cron entry in a time zone, and an interval entry
    nightly = Schedule(name="nightly.report", cron="30 2 * * *", timezone="Europe/Berlin")
    reaper = Schedule(name="reaper", cron=None, interval_s=30, timezone="UTC")

    # When each fires once well and once badly
    for schedule in (nightly, reaper):
        monitors.report_fire(schedule, ok=True)
        monitors.report_fire(schedule, ok=False)
    sentry_sdk.flush(timeout=5)

    # Then the cron entry checked in twice, with its crontab and zone; the interval one never
    sent = check_ins(sentry)
    assert [c["status"] for c in sent] == ["ok", "error"]
    for check_in in sent:
        assert check_in["monitor_slug"] == "nightly-report"
        assert check_in["monitor_config"]["schedule"] == {"type": "crontab", "value": "30 2 * * *"}
        assert check_in["monitor_config"]["timezone"] == "Europe/Berlin"


def test_no_check_in_without_a_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[object] = []
    monkeypatch.setattr(monitors, "capture_checkin", lambda **kw: sent.append(kw))
    monkeypatch.setattr(monitors, "get_settings", lambda: Settings(sentry_dsn=None))

    monitors.report_fire(Schedule(name="n", cron="* * * * *", timezone="UTC"), ok=True)

    assert sent == []
