"""Sentry for every process when ``TASKYARD_SENTRY_DSN`` is set, with secrets scrubbed."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration

from workers.observability.redaction import mask_mapping
from workers.observability.scrub import scrub_mapping
from workers.settings import Settings


def _scrub_event(event: Any, hint: Any) -> Any:
    _drop_frame_locals(event)
    return scrub_mapping(mask_mapping(event))


def _drop_frame_locals(event: Any) -> None:
    """Remove every stack frame's local variables from ``event``.

    Frame locals hold secrets no pattern can recognise (a Slack URL, a channel's unsealed
    secrets in a sender's frame); tracebacks keep file, line and function. Done here, in the
    one hook every event passes, because the SDK's own option for it changed between major
    versions (``include_local_variables`` in 2.x, ``data_collection`` in 3.x)."""
    if not isinstance(event, dict):
        return
    for section in ("exception", "threads"):
        values = (event.get(section) or {}).get("values") or []
        for value in values:
            frames = ((value or {}).get("stacktrace") or {}).get("frames") or []
            for frame in frames:
                if isinstance(frame, dict):
                    frame.pop("vars", None)


def init_sentry(settings: Settings, component: str) -> bool:
    """Initialise Sentry for ``component``; returns whether it was enabled."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.environment,
        integrations=[CeleryIntegration(monitor_beat_tasks=True)],
        before_send=_scrub_event,
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("component", component)
    return True
