"""The Alertmanager-compatible door: alerts a Prometheus server posts to ``POST /api/v2/alerts``,
kept in the store for the ``alertmanager`` source (``received.py``) to read.

A post is a list of alerts as Alertmanager takes them (``labels``, ``annotations``,
``startsAt``, ``endsAt``, ``generatorURL``). Each is kept by its labels' fingerprint, the last
post's times winning: no ``startsAt`` is now; no ``endsAt`` is now plus the resolve timeout
(``TASKYARD_ALERTS_RESOLVE_TIMEOUT_S``), so a sender that stops re-posting has its alerts
resolved; an ``endsAt`` in the past resolves. When no rule reads the door, a post makes one,
:data:`DOOR_RULE`, without channels (give it some with ``PATCH``), so what is received is
always an alert in ``GET /v1/alerts``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tasks.alerts.decision import Op
from tasks.alerts.errors import AlertRuleConflict
from tasks.alerts.instances import fingerprint
from tasks.alerts.rule_store import create_rule
from tasks.alerts.rules import RuleSpec
from tasks.alerts.sources import SourceKind
from workers.settings import get_settings
from workers.store.engine import session_scope
from workers.store.models import AlertRule, ReceivedAlert
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: The rule the first post makes when no rule reads the door.
DOOR_RULE = "alertmanager"
#: Alerts one post may carry (Prometheus sends 64 at most by default).
MAX_ALERTS = 1_000
#: How long an ended alert is kept (for its RESOLVED notice's annotations) before a post
#: removes it.
KEEP_ENDED = timedelta(days=1)
DOOR_ANNOTATIONS = {
    "summary": "{{ labels.get('alertname', rule) }}"
    "{% if annotations.get('summary') %}: {{ annotations['summary'] }}{% endif %}",
    "description": "{{ annotations.get('description', '') }}",
}


@dataclass(frozen=True)
class Posted:
    """One alert of a post, its times settled."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    generator_url: str | None


def settle(
    labels: dict[str, str],
    annotations: dict[str, str],
    starts_at: datetime | None,
    ends_at: datetime | None,
    generator_url: str | None,
    now: datetime,
) -> Posted:
    """An alert as posted, with Alertmanager's defaults for missing times: ``startsAt`` now
    (or ``endsAt`` when that is earlier), ``endsAt`` now plus the resolve timeout."""
    if ends_at is None:
        ends_at = now + timedelta(seconds=get_settings().alerts_resolve_timeout_s)
    if starts_at is None:
        starts_at = min(now, ends_at)
    if ends_at < starts_at:
        raise ValueError("endsAt must not be before startsAt")
    return Posted(labels, annotations, starts_at, ends_at, generator_url)


def _door_rule() -> RuleSpec:
    return RuleSpec(
        name=DOOR_RULE,
        source=SourceKind.ALERTMANAGER,
        op=Op.GT,
        threshold=0.0,
        interval_s=10,
        annotations=dict(DOOR_ANNOTATIONS),
    )


def ensure_rule() -> None:
    """Make :data:`DOOR_RULE` when no rule reads the door (a race with another process making
    it is no error)."""
    reads_door = select(AlertRule.id).where(AlertRule.source == SourceKind.ALERTMANAGER.value)
    with session_scope() as session:
        if session.scalar(reads_door.limit(1)) is not None:
            return
    try:
        create_rule(_door_rule())
    except AlertRuleConflict:
        log.warning(
            "no rule reads the Alertmanager door, and a rule named %s reads another source",
            DOOR_RULE,
            extra={"action": "alert.door_rule_taken", "rule": DOOR_RULE},
        )
        return
    log.info(
        "alert rule %s made for the Alertmanager door",
        DOOR_RULE,
        extra={"action": "alert.door_rule_created", "rule": DOOR_RULE},
    )


def _keep(alerts: list[Posted], now: datetime) -> None:
    with session_scope() as session:
        for alert in alerts:
            key = fingerprint(alert.labels)
            values: dict[str, Any] = {
                "labels": alert.labels,
                "annotations": alert.annotations,
                "starts_at": alert.starts_at,
                "ends_at": alert.ends_at,
                "generator_url": alert.generator_url,
                "received_at": now,
            }
            done = session.execute(
                update(ReceivedAlert).where(ReceivedAlert.fingerprint == key).values(**values)
            )
            if done.rowcount == 0:  # type: ignore[attr-defined]
                session.add(ReceivedAlert(fingerprint=key, created_at=now, **values))
                session.flush()
        session.execute(delete(ReceivedAlert).where(ReceivedAlert.ends_at < now - KEEP_ENDED))


def receive(alerts: list[Posted]) -> int:
    """Keep ``alerts`` (each replacing the one with its labels); how many were kept."""
    now = utcnow()
    try:
        _keep(alerts, now)
    except IntegrityError:  # another post added one of these labels first: now it updates
        _keep(alerts, now)
    ensure_rule()
    return len(alerts)
