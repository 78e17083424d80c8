"""Sentry cron monitors for beat's cron entries: one check-in per fire, ``ok`` or ``error``.

Each check-in carries the monitor's configuration (the cron expression and its time zone),
so Sentry creates or updates the monitor by itself (upsert) and alerts on a missed slot.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sentry_sdk.crons import capture_checkin
from sentry_sdk.crons.consts import MonitorStatus

from workers.settings import get_settings
from workers.store.models import Schedule

if TYPE_CHECKING:
    from sentry_sdk._types import MonitorConfig

MAX_SLUG = 50
#: Minutes Sentry waits past a slot before calling it missed (beat's grace is 60 s).
CHECKIN_MARGIN_MIN = 2


def monitor_slug(name: str) -> str:
    """The Sentry monitor slug of an entry: lower case, ``[a-z0-9_-]``, at most 50 characters."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    return slug[:MAX_SLUG] or "schedule"


def monitor_config(schedule: Schedule) -> MonitorConfig:
    """The monitor's configuration: the entry's crontab in its time zone."""
    assert schedule.cron is not None
    return {
        "schedule": {"type": "crontab", "value": schedule.cron},
        "timezone": schedule.timezone,
        "checkin_margin": CHECKIN_MARGIN_MIN,
    }


def report_fire(schedule: Schedule, ok: bool) -> None:
    """Check in to the entry's monitor (cron entries, when ``TASKYARD_SENTRY_DSN`` is set)."""
    if schedule.cron is None or get_settings().sentry_dsn is None:
        return
    capture_checkin(
        monitor_slug=monitor_slug(schedule.name),
        status=MonitorStatus.OK if ok else MonitorStatus.ERROR,
        monitor_config=monitor_config(schedule),
    )
