"""Sentry for every process when ``TASKYARD_SENTRY_DSN`` is set, with secrets scrubbed."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration

from workers.observability.scrub import scrub_mapping
from workers.settings import Settings


def _scrub_event(event: Any, hint: Any) -> Any:
    return scrub_mapping(event)


def init_sentry(settings: Settings, component: str) -> bool:
    """Initialise Sentry for ``component``; returns whether it was enabled."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.environment,
        integrations=[CeleryIntegration(monitor_beat_tasks=True)],
        before_send=_scrub_event,
        # Frame locals hold secrets no pattern can recognise (a Slack URL, a channel's
        # unsealed secrets in a sender's frame); tracebacks keep file, line and function.
        include_local_variables=False,
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("component", component)
    return True
