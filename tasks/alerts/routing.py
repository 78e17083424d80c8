"""The store's side of routing: the route tree, silences and inhibit rules as
:mod:`tasks.alerts.grouping` values, and one flush of every group per tick.

A flush reads every alert instance, works out which routes and groups each belongs to and
which are muted (inhibited, then silenced), and asks :func:`grouping.decide` what each group
sends. A send is written as an ``alert_group_notices`` row in the transaction that advances
the group's log with a compare-and-set on its ``seq``, then sent through
:func:`tasks.notifications.notify.send` with the key ``alert-group:<group id>:<seq>``: two
evaluators flushing at once write one notice, and a crash between the write and the send
leaves it owed, sent by the next tick, once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tasks.alerts.grouping import (
    Alert,
    Flush,
    Inhibition,
    Log,
    Route,
    Silence,
    Wait,
    decide,
    group_key,
    group_labels,
    inhibited_by,
    routes_of,
    silenced_by,
)
from tasks.alerts.matchers import loaded
from tasks.alerts.states import AlertState
from tasks.notifications import notify
from tasks.notifications.errors import InvalidNotification
from tasks.notifications.notify import NotificationRequest
from workers.errors import IdempotencyConflict, TaskyardError
from workers.store.engine import session_scope
from workers.store.models import (
    AlertGroup,
    AlertGroupNotice,
    AlertInstance,
    AlertRoute,
    AlertRule,
    InhibitRule,
    SilenceRow,
)
from workers.store.types import utcnow

log = logging.getLogger(__name__)

ROOT = "(root)"
#: States in which an instance counts as firing (``recovering`` fires until it resolves).
FIRING = frozenset({AlertState.FIRING.value, AlertState.RECOVERING.value})
#: Group notices one flush sends at most; the rest wait for the next tick.
BATCH = 200
SCOPE = "alerts"
SOURCE = "alert"


def idempotency_key(group_id: uuid.UUID, seq: int) -> str:
    """The key a group's notice is sent with: one notification per write of its log."""
    return f"alert-group:{group_id}:{seq}"


# -- reading the configuration -----------------------------------------------------------


def route_value(row: AlertRoute, children: tuple[Route, ...] = ()) -> Route:
    """A stored route as :class:`Route`."""
    return Route(
        name=row.name,
        matchers=loaded(row.matchers),
        channels=tuple(row.channels),
        group_by=tuple(row.group_by),
        group_wait_s=row.group_wait_s,
        group_interval_s=row.group_interval_s,
        repeat_interval_s=row.repeat_interval_s,
        send_resolved=row.send_resolved,
        continues=row.continues,
        children=children,
    )


def tree(rows: Iterable[AlertRoute]) -> tuple[Route, dict[str, uuid.UUID]]:
    """The route tree under the implicit root, and each route's id by name."""
    by_parent: dict[uuid.UUID | None, list[AlertRoute]] = {}
    for row in rows:
        by_parent.setdefault(row.parent_id, []).append(row)
    ids: dict[str, uuid.UUID] = {}

    def build(parent: uuid.UUID | None, depth: int) -> tuple[Route, ...]:
        if depth > 20:  # a cycle cannot be saved; this is a guard, not a rule
            return ()
        children = sorted(by_parent.get(parent, []), key=lambda r: (r.position, r.name))
        built = []
        for row in children:
            ids[row.name] = row.id
            built.append(route_value(row, build(row.id, depth + 1)))
        return tuple(built)

    return Route(ROOT, group_by=(), children=build(None, 0)), ids


@dataclass(frozen=True)
class Config:
    """What routing reads once per flush."""

    root: Route
    route_ids: dict[str, uuid.UUID]
    silences: tuple[Silence, ...]
    inhibitions: tuple[Inhibition, ...]

    @property
    def routes(self) -> bool:
        """Whether any route exists (else every notice goes to its rule's channels)."""
        return bool(self.root.children)


def silence_value(row: SilenceRow) -> Silence:
    """A stored silence as :class:`Silence`."""
    return Silence(str(row.id), loaded(row.matchers), row.starts_at, row.ends_at)


def inhibition_value(row: InhibitRule) -> Inhibition:
    """A stored inhibit rule as :class:`Inhibition`."""
    return Inhibition(
        row.name, loaded(row.source_matchers), loaded(row.target_matchers), tuple(row.equal)
    )


def config(at: datetime) -> Config:
    """The route tree, the silences running at ``at`` and the inhibit rules."""
    with session_scope() as session:
        root, ids = tree(session.scalars(select(AlertRoute)))
        silences = tuple(
            silence_value(row)
            for row in session.scalars(
                select(SilenceRow).where(SilenceRow.starts_at <= at, SilenceRow.ends_at > at)
            )
        )
        inhibitions = tuple(inhibition_value(row) for row in session.scalars(select(InhibitRule)))
    return Config(root, ids, silences, inhibitions)


def alert_labels(rule_name: str, severity: str, labels: Mapping[str, Any]) -> dict[str, str]:
    """An instance's labels as routing sees them: ``alertname`` and ``severity`` from its
    rule, unless its own labels name them."""
    return {"alertname": rule_name, "severity": severity, **{k: str(v) for k, v in labels.items()}}


def alerts() -> list[Alert]:
    """Every instance as an :class:`Alert`."""
    query = select(
        AlertInstance.id, AlertInstance.labels, AlertInstance.state, AlertRule.name,
        AlertRule.severity,
    ).join(AlertRule, AlertRule.id == AlertInstance.rule_id)  # fmt: skip
    with session_scope() as session:
        return [
            Alert(str(id_), alert_labels(name, severity, labels), state in FIRING)
            for id_, labels, state, name, severity in session.execute(query)
        ]


@dataclass(frozen=True)
class Muting:
    """Why an alert is muted now: the inhibit rules and silences that mute it."""

    inhibited_by: tuple[str, ...] = ()
    silenced_by: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.inhibited_by or self.silenced_by)


def muting(found: list[Alert], conf: Config, at: datetime) -> dict[str, Muting]:
    """The firing alerts that are muted, and by what (inhibition first, then silences)."""
    firing = [a for a in found if a.firing]
    muted: dict[str, Muting] = {}
    for alert in firing:
        why = Muting(
            tuple(inhibited_by(alert, firing, conf.inhibitions)),
            tuple(silenced_by(alert, conf.silences, at)),
        )
        if why:
            muted[alert.key] = why
    return muted


def muted_now(at: datetime | None = None) -> dict[str, Muting]:
    """The firing alerts muted at ``at`` (default now), by instance id, and by what."""
    at = at or utcnow()
    return muting(alerts(), config(at), at)


def routed(labels: Mapping[str, str], conf: Config) -> list[str]:
    """The names of the routes an alert with ``labels`` ends at."""
    return [route.name for route in routes_of(conf.root, labels)] if conf.routes else []


# -- flushing groups ---------------------------------------------------------------------


@dataclass
class _Group:
    route: Route
    labels: dict[str, str]
    firing: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)


def _groups(
    found: list[Alert], conf: Config, muted: Mapping[str, Muting]
) -> dict[tuple[str, str], _Group]:
    groups: dict[tuple[str, str], _Group] = {}
    for alert in found:
        for route in routes_of(conf.root, alert.labels):
            labels = group_labels(route, alert.labels)
            group = groups.setdefault((route.name, group_key(labels)), _Group(route, labels))
            group.members.add(alert.key)
            if alert.firing and alert.key not in muted:
                group.firing.add(alert.key)
    return groups


def _shown(keys: Iterable[str], by_key: Mapping[str, Alert]) -> list[dict[str, Any]]:
    return [
        {"instance_id": key, "labels": dict(by_key[key].labels) if key in by_key else {}}
        for key in sorted(keys)
    ]


def _write(
    row: AlertGroup | None,
    route_id: uuid.UUID,
    key: str,
    labels: dict[str, str],
    outcome: Flush | Wait,
    by_key: Mapping[str, Alert],
) -> bool:
    """Advance one group's log by compare-and-set (a new group: insert it), with the notice
    a flush owes; whether this call wrote it."""
    new = outcome.log
    values = {
        "firing": sorted(new.firing),
        "sent_at": new.sent_at,
        "first_seen_at": new.first_seen_at,
    }
    with session_scope() as session:
        if row is None:
            group_id, seq = uuid.uuid4(), 1
            session.add(
                AlertGroup(
                    id=group_id, route_id=route_id, group_key=key, group_labels=labels,
                    seq=seq, **values,
                )
            )  # fmt: skip
        else:
            group_id, seq = row.id, row.seq + 1
            moved = session.execute(
                update(AlertGroup)
                .where(AlertGroup.id == row.id, AlertGroup.seq == row.seq)
                .values(seq=seq, **values)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return False
        if isinstance(outcome, Flush):
            session.add(
                AlertGroupNotice(
                    group_id=group_id,
                    seq=seq,
                    firing=_shown(outcome.firing, by_key),
                    resolved=_shown(outcome.resolved, by_key),
                )
            )
        try:
            session.flush()
        except IntegrityError:  # another evaluator made the group first
            session.rollback()
            return False
    return True


def _drop(row: AlertGroup) -> None:
    """Delete a group that has no alert and owes nothing (by compare-and-set on its seq)."""
    with session_scope() as session:
        session.execute(
            delete(AlertGroup).where(AlertGroup.id == row.id, AlertGroup.seq == row.seq)
        )


@dataclass
class FlushReport:
    """What one flush of the groups did."""

    groups: int = 0
    written: int = 0
    notices: int = 0


def flush_groups(at: datetime | None = None) -> FlushReport:
    """One flush of every group at ``at``: decide, write by compare-and-set, then send the
    notices owed."""
    at = at or utcnow()
    report = FlushReport()
    conf = config(at)
    if conf.routes:
        found = alerts()
        by_key = {a.key: a for a in found}
        firing_now = {a.key for a in found if a.firing}
        muted = muting(found, conf, at)
        groups = _groups(found, conf, muted)
        with session_scope() as session:
            stored = {(r.route_id, r.group_key): r for r in session.scalars(select(AlertGroup))}
            session.expunge_all()
        names = {v: k for k, v in conf.route_ids.items()}
        routes_by_name = _route_index(conf.root)
        for (route_id, key), old in stored.items():
            name = names.get(route_id)
            if name is not None and (name, key) not in groups:  # no member alert now
                groups[(name, key)] = _Group(routes_by_name[name], dict(old.group_labels))
        for (name, key), group in groups.items():
            route_id = conf.route_ids[name]
            row = stored.get((route_id, key))
            log_ = Log(frozenset(row.firing), row.sent_at, row.first_seen_at) if row else Log()
            resolved = frozenset(log_.firing - firing_now)
            outcome = decide(group.route, log_, frozenset(group.firing), resolved, at)
            report.groups += 1
            idle = isinstance(outcome, Wait) and not outcome.log.firing and not group.members
            if row is not None and idle:  # no alert in it and nothing owed: the group goes
                _drop(row)
                continue
            if row is not None and outcome.log == log_ and isinstance(outcome, Wait):
                continue
            if row is None and isinstance(outcome, Wait) and outcome.log == Log():
                continue
            if _write(row, route_id, key, group.labels, outcome, by_key):
                report.written += 1
    report.notices = send_owed()
    return report


def _route_index(root: Route) -> dict[str, Route]:
    index: dict[str, Route] = {}
    stack = list(root.children)
    while stack:
        route = stack.pop()
        index[route.name] = route
        stack.extend(route.children)
    return index


# -- sending ------------------------------------------------------------------------------


def message(route: str, labels: Mapping[str, str], notice: AlertGroupNotice) -> tuple[str, str]:
    """A group notice's subject and text."""
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(all)"
    parts = []
    if notice.firing:
        parts.append(f"FIRING:{len(notice.firing)}")
    if notice.resolved:
        parts.append(f"RESOLVED:{len(notice.resolved)}")
    subject = f"[{' '.join(parts)}] {shown}"[:998]
    lines = [f"route: {route}", f"group: {shown}"]
    for title, members in (("Firing", notice.firing), ("Resolved", notice.resolved)):
        if members:
            lines += ["", f"{title}:"]
            for member in members:
                member_labels = member.get("labels") or {}
                text = ", ".join(f"{k}={v}" for k, v in sorted(member_labels.items()))
                lines.append(f"- {text or member['instance_id']}")
    return subject, "\n".join(lines)


def _settle(notice_id: uuid.UUID, notification_id: uuid.UUID | None, error: str | None) -> None:
    with session_scope() as session:
        session.execute(
            update(AlertGroupNotice)
            .where(AlertGroupNotice.id == notice_id, AlertGroupNotice.notified_at.is_(None))
            .values(notified_at=utcnow(), notification_id=notification_id, notice_error=error)
        )


def send_owed(limit: int = BATCH) -> int:
    """Send the group notices owed, oldest first; how many were settled."""
    query = (
        select(AlertGroupNotice, AlertGroup, AlertRoute)
        .join(AlertGroup, AlertGroup.id == AlertGroupNotice.group_id)
        .join(AlertRoute, AlertRoute.id == AlertGroup.route_id)
        .where(AlertGroupNotice.notified_at.is_(None))
        .order_by(AlertGroupNotice.created_at)
        .limit(limit)
    )
    with session_scope() as session:
        owed = [(row[0], row[1], row[2]) for row in session.execute(query).all()]
        session.expunge_all()
    settled = 0
    for notice, group, route in owed:
        if not route.channels:
            _settle(notice.id, None, None)
            settled += 1
            continue
        subject, text = message(route.name, group.group_labels, notice)
        request = NotificationRequest(
            channels=tuple(route.channels),
            subject=subject,
            text=text,
            idempotency_key=idempotency_key(group.id, notice.seq),
        )
        extra = {"action": "alert.group_notified", "route": route.name, "seq": notice.seq}
        try:
            sent = notify.send(request, source=SOURCE, scope=SCOPE)
        except IdempotencyConflict:
            _settle(notice.id, None, None)
        except InvalidNotification as error:
            _settle(notice.id, None, error.message)
            log.warning("alert group notice not sent: %s", error.message, extra=extra)
        except TaskyardError as error:
            log.warning("alert group notice deferred: %s", error.message, extra=extra)
            break
        else:
            _settle(notice.id, sent.notification.id, None)
            log.info("alert group notified", extra=extra)
        settled += 1
    return settled
