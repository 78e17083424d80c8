"""Routes, groups and what a group's flush sends: pure functions of the route tree, the
alerts, the silences and inhibit rules, and a group's notification log, tested as tables in
``tests/unit/test_alert_grouping.py``. The store's reads and writes are ``routing.py``'s.

- **Routes** form a tree under an implicit root that matches every alert. An alert descends
  into the first child whose matchers it passes (then that child's children, the same way),
  and on to the next sibling as well when the matched child has ``continue``. The routes it
  ends at are the deepest matched ones; an alert no route matches is not routed (its rule's
  own ``channels`` take it, one notice per transition, as before routes existed).
- **Groups**: within a route, alerts with the same values of ``group_by`` are one group
  (``["..."]``: every label, so each alert is its own group).
- **Inhibition, then silences**: a firing alert that matches an inhibit rule's
  ``source_matchers`` mutes the alerts matching its ``target_matchers`` that share its values
  of ``equal`` (never itself); a silence mutes the alerts its matchers pass while it runs.
  Muted alerts are left out of what a group sends; an alert already sent as firing is not
  reported resolved because it was muted, and its RESOLVED, when it comes, is always sent.
- **The notification log** of a group is the set of alerts it last sent as firing and when.
  A flush sends when that set would change (after ``group_wait_s`` for a new group, after
  ``group_interval_s`` since the last send otherwise), or when ``repeat_interval_s`` has
  passed with the same firing set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tasks.alerts.matchers import Matcher, matches

#: ``group_by: ["..."]``: group by every label.
EVERY_LABEL = "..."


@dataclass(frozen=True)
class Route:
    """One node of the route tree (the root has no matchers and no receivers)."""

    name: str
    matchers: tuple[Matcher, ...] = ()
    channels: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ("alertname",)
    group_wait_s: int = 30
    group_interval_s: int = 300
    repeat_interval_s: int = 14_400
    send_resolved: bool = True
    continues: bool = False
    children: tuple[Route, ...] = ()


@dataclass(frozen=True)
class Alert:
    """An alert as routing sees it: its instance, its labels (with ``alertname`` and
    ``severity``), and whether it is firing now."""

    key: str
    labels: Mapping[str, str]
    firing: bool


@dataclass(frozen=True)
class Silence:
    """A silence: its id and matchers, running from ``starts_at`` until ``ends_at``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def running(self, at: datetime) -> bool:
        """Whether it mutes at ``at``."""
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class Inhibition:
    """An inhibit rule: firing ``source`` alerts mute ``target`` alerts equal on ``equal``."""

    name: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


def routes_of(root: Route, labels: Mapping[str, str]) -> list[Route]:
    """The routes an alert with ``labels`` ends at, in tree order (none: not routed)."""
    found: list[Route] = []
    _descend(root, labels, found)
    return [route for route in found if route is not root]


def _descend(route: Route, labels: Mapping[str, str], found: list[Route]) -> None:
    matched_child = False
    for child in route.children:
        if not matches(child.matchers, labels):
            continue
        matched_child = True
        _descend(child, labels, found)
        if not child.continues:
            break
    if not matched_child:
        found.append(route)


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that name an alert's group in ``route``."""
    if EVERY_LABEL in route.group_by:
        return dict(labels)
    return {name: labels.get(name, "") for name in route.group_by}


def group_key(labels: Mapping[str, str]) -> str:
    """A group's identity within its route: SHA-256 of its labels as canonical JSON."""
    canonical = json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def inhibited_by(alert: Alert, firing: Sequence[Alert], rules: Iterable[Inhibition]) -> list[str]:
    """The inhibit rules that mute ``alert``: a firing source alert (not the alert itself)
    passing the rule's source matchers, equal to ``alert`` on every ``equal`` label."""
    muting = []
    for rule in rules:
        if not matches(rule.target, alert.labels):
            continue
        for source in firing:
            if source.key == alert.key or not matches(rule.source, source.labels):
                continue
            if all(source.labels.get(n, "") == alert.labels.get(n, "") for n in rule.equal):
                muting.append(rule.name)
                break
    return muting


def silenced_by(alert: Alert, silences: Iterable[Silence], at: datetime) -> list[str]:
    """The ids of the silences running at ``at`` that mute ``alert``."""
    return [s.id for s in silences if s.running(at) and matches(s.matchers, alert.labels)]


@dataclass(frozen=True)
class Log:
    """A group's notification log: what it last sent as firing and when (``sent_at`` is
    ``None`` before the first send); ``first_seen_at`` is when it first had a firing alert
    not yet sent, from which ``group_wait_s`` runs."""

    firing: frozenset[str] = frozenset()
    sent_at: datetime | None = None
    first_seen_at: datetime | None = None


@dataclass(frozen=True)
class Flush:
    """What a group sends now: the alerts firing (all of them, as Alertmanager does) and
    those resolved since the last send; ``log`` is the group's log after it."""

    firing: frozenset[str]
    resolved: frozenset[str]
    log: Log


@dataclass(frozen=True)
class Wait:
    """Nothing to send now; ``log`` is the group's log to keep (it may have changed: a first
    sighting, or a resolved alert dropped without notice when ``send_resolved`` is off)."""

    log: Log
    until: datetime | None = None


def decide(
    route: Route,
    log: Log,
    firing: frozenset[str],
    resolved: frozenset[str],
    at: datetime,
) -> Flush | Wait:
    """A group's flush at ``at``. ``firing``: its alerts firing and not muted; ``resolved``:
    its alerts sent as firing before that are no longer firing (muted ones are neither)."""
    resolved = resolved & log.firing
    kept_muted = log.firing - firing - resolved  # firing but muted now: neither sent nor dropped
    if not firing and not resolved:
        return Wait(Log(log.firing & kept_muted, log.sent_at, None))
    if log.sent_at is None:
        first = log.first_seen_at or at
        due = first + timedelta(seconds=route.group_wait_s)
        if at < due:
            return Wait(Log(log.firing, None, first), due)
        return Flush(firing, frozenset(), Log(firing | kept_muted, at, None))
    changed = bool(firing - log.firing) or (bool(resolved) and route.send_resolved)
    if changed:
        due = log.sent_at + timedelta(seconds=route.group_interval_s)
    else:
        due = log.sent_at + timedelta(seconds=route.repeat_interval_s)
    if resolved and not route.send_resolved and not changed:
        # the resolved ones leave the log quietly; the rest wait for the repeat
        log = Log(log.firing - resolved, log.sent_at, None)
        resolved = frozenset()
    if at < due or (not firing and not resolved):
        return Wait(log, due if firing or resolved else None)
    shown = resolved if route.send_resolved else frozenset()
    return Flush(firing, shown, Log(firing | kept_muted, at, None))
