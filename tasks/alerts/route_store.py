"""Alert routes, inhibit rules and silences in the store: checked, created, listed a page at
a time, read, edited and removed (a silence is expired rather than removed, so the record of
who muted what stays). Every write is checked here, so the API and the CLI refuse the same
input with the same words: a 422 ``invalid_alert_route`` or ``invalid_silence`` naming the
field."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select

from tasks.alerts.errors import (
    AlertRouteConflict,
    AlertRouteNotFound,
    InhibitRuleConflict,
    InhibitRuleNotFound,
    InvalidAlertRoute,
    InvalidSilence,
    SilenceNotFound,
    invalid,
)
from tasks.alerts.grouping import EVERY_LABEL
from tasks.alerts.matchers import LABEL_NAME, documents, parse
from tasks.alerts.rules import check_channels
from workers.names import NAME_RULE, is_name
from workers.storable import Unstorable, check_text
from workers.store.engine import session_scope
from workers.store.lookup import NamedRows, get_or_raise, name_taken, newest_page, row_or_raise
from workers.store.models import AlertRoute, InhibitRule, SilenceRow
from workers.store.types import utcnow

MAX_TIMER_S = 7 * 86_400
MAX_SILENCE_S = 366 * 86_400
MAX_COMMENT = 2_000
MAX_DEPTH = 10
MAX_GROUP_BY = 20


def _seconds(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_TIMER_S:
        message = f"must be a whole number of seconds from {low} to {MAX_TIMER_S}"
        raise invalid(name, message, InvalidAlertRoute)
    return value


def _label_names(name: str, value: Any, *, ellipsis: bool) -> list[str]:
    if not isinstance(value, list | tuple) or len(value) > MAX_GROUP_BY:
        raise invalid(
            name, f"must be a list of at most {MAX_GROUP_BY} label names", InvalidAlertRoute
        )
    for item in value:
        if ellipsis and item == EVERY_LABEL:
            continue
        if not isinstance(item, str) or LABEL_NAME.fullmatch(item) is None:
            raise invalid(name, f"{str(item)[:50]!r} is not a label name", InvalidAlertRoute)
    if ellipsis and EVERY_LABEL in value and len(value) > 1:
        raise invalid(name, f'"{EVERY_LABEL}" (every label) stands alone', InvalidAlertRoute)
    return list(dict.fromkeys(value))


def _name(value: Any) -> str:
    if not isinstance(value, str) or not is_name(value):
        raise invalid(
            "name", f"{str(value)[:50]!r} is not a usable name; {NAME_RULE}", InvalidAlertRoute
        )
    return value


# -- routes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteSpec:
    """A route as the API and CLI give it (``parent``: a route's name, or none for a child
    of the root)."""

    name: str
    matchers: list[Any] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    parent: str | None = None
    position: int = 0
    group_by: list[str] = field(default_factory=lambda: ["alertname"])
    group_wait_s: int = 30
    group_interval_s: int = 300
    repeat_interval_s: int = 14_400
    send_resolved: bool = True
    continues: bool = False


ROUTE_FIELDS = frozenset(RouteSpec.__dataclass_fields__) - {"name"}


def _parent_id(session: Any, parent: Any, own_id: uuid.UUID | None) -> uuid.UUID | None:
    if parent is None:
        return None
    if not isinstance(parent, str):
        raise invalid("parent", "must be a route's name, or null", InvalidAlertRoute)
    found = session.scalar(select(AlertRoute).where(AlertRoute.name == parent))
    if found is None:
        message = f"no route named {parent!r}; `taskyard alerts routes list`"
        raise invalid("parent", message, InvalidAlertRoute)
    depth, node = 1, found
    while node is not None:  # no cycle, and a bounded depth
        if own_id is not None and node.id == own_id:
            raise invalid("parent", "a route cannot sit below itself", InvalidAlertRoute)
        depth += 1
        if depth > MAX_DEPTH:
            raise invalid("parent", f"routes nest at most {MAX_DEPTH} deep", InvalidAlertRoute)
        node = session.get(AlertRoute, node.parent_id) if node.parent_id else None
    return found.id  # type: ignore[no-any-return]


def _route_columns(spec: RouteSpec) -> dict[str, Any]:
    if isinstance(spec.position, bool) or not isinstance(spec.position, int):
        raise invalid("position", "must be a whole number", InvalidAlertRoute)
    for flag in ("send_resolved", "continues"):
        if not isinstance(getattr(spec, flag), bool):
            shown = "continue" if flag == "continues" else flag
            raise invalid(shown, "must be true or false", InvalidAlertRoute)
    interval = _seconds("group_interval_s", spec.group_interval_s, 1)
    repeat = _seconds("repeat_interval_s", spec.repeat_interval_s, 1)
    if repeat < interval:
        message = f"must be at least group_interval_s ({interval})"
        raise invalid("repeat_interval_s", message, InvalidAlertRoute)
    return {
        "name": _name(spec.name),
        "matchers": documents(parse(spec.matchers, "matchers")),
        "channels": list(check_channels(spec.channels, InvalidAlertRoute)),
        "position": spec.position,
        "group_by": _label_names("group_by", spec.group_by, ellipsis=True),
        "group_wait_s": _seconds("group_wait_s", spec.group_wait_s, 0),
        "group_interval_s": interval,
        "repeat_interval_s": repeat,
        "send_resolved": spec.send_resolved,
        "continues": spec.continues,
    }


ROUTES = NamedRows(
    AlertRoute,
    AlertRouteNotFound,
    "alert route",
    name_taken(AlertRouteConflict, "an alert route"),
    ROUTE_FIELDS,
)
#: A page of routes, newest first; one by id; one by name (:class:`AlertRouteNotFound`).
list_routes, get_route, find_route = ROUTES.page, ROUTES.get, ROUTES.find


def create_route(spec: RouteSpec) -> AlertRoute:
    """Store a new route (checked), or :class:`InvalidAlertRoute` naming the field,
    :class:`AlertRouteConflict` when the name is taken."""
    columns = _route_columns(spec)
    with session_scope() as session:
        columns["parent_id"] = _parent_id(session, spec.parent, None)
    return ROUTES.add(AlertRoute(**columns))


def route_spec(row: AlertRoute, parent: str | None) -> RouteSpec:
    """A stored route as the spec it was made from."""
    return RouteSpec(
        name=row.name, matchers=list(row.matchers), channels=list(row.channels),
        parent=parent, position=row.position, group_by=list(row.group_by),
        group_wait_s=row.group_wait_s, group_interval_s=row.group_interval_s,
        repeat_interval_s=row.repeat_interval_s, send_resolved=row.send_resolved,
        continues=row.continues,
    )  # fmt: skip


def parent_name(row: AlertRoute) -> str | None:
    """The name of a route's parent (``None``: the root)."""
    if row.parent_id is None:
        return None
    with session_scope() as session:
        return session.scalar(select(AlertRoute.name).where(AlertRoute.id == row.parent_id))


def update_route(route_id: uuid.UUID, changes: Mapping[str, Any]) -> AlertRoute:
    """Apply ``changes`` (fields of :data:`ROUTE_FIELDS`), checked as a whole first. Its
    groups keep their logs when the grouping is unchanged."""
    unknown = set(changes) - ROUTE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with session_scope() as session:
        row = row_or_raise(
            session, AlertRoute, route_id, AlertRouteNotFound, "alert route", lock=True
        )
        parent = session.scalar(select(AlertRoute.name).where(AlertRoute.id == row.parent_id))
        after = RouteSpec(**{**route_spec(row, parent).__dict__, **changes})
        columns = _route_columns(after)
        columns["parent_id"] = _parent_id(session, after.parent, row.id)
        for name, value in columns.items():
            setattr(row, name, value)
    return row


def delete_route(route_id: uuid.UUID) -> None:
    """Remove a route with the routes below it and their groups."""
    _delete(ROUTES, route_id)


def _delete(rows: NamedRows[Any], row_id: uuid.UUID) -> None:
    with session_scope() as session:
        session.delete(rows.row(session, row_id))


# -- inhibit rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class InhibitSpec:
    """An inhibit rule as given."""

    name: str
    source_matchers: list[Any] = field(default_factory=list)
    target_matchers: list[Any] = field(default_factory=list)
    equal: list[str] = field(default_factory=list)


def _inhibit_columns(spec: InhibitSpec) -> dict[str, Any]:
    return {
        "name": _name(spec.name),
        "source_matchers": documents(parse(spec.source_matchers, "source_matchers", required=True)),
        "target_matchers": documents(parse(spec.target_matchers, "target_matchers", required=True)),
        "equal": _label_names("equal", spec.equal, ellipsis=False),
    }


INHIBIT_FIELDS = frozenset({"source_matchers", "target_matchers", "equal"})
INHIBIT_RULES = NamedRows(
    InhibitRule,
    InhibitRuleNotFound,
    "inhibit rule",
    name_taken(InhibitRuleConflict, "an inhibit rule"),
    INHIBIT_FIELDS,
)
#: A page of inhibit rules, newest first; one by id; one by name.
list_inhibit_rules, get_inhibit_rule = INHIBIT_RULES.page, INHIBIT_RULES.get
find_inhibit_rule = INHIBIT_RULES.find


def create_inhibit_rule(spec: InhibitSpec) -> InhibitRule:
    """Store a new inhibit rule (checked)."""
    return INHIBIT_RULES.add(InhibitRule(**_inhibit_columns(spec)))


def update_inhibit_rule(rule_id: uuid.UUID, changes: Mapping[str, Any]) -> InhibitRule:
    """Apply ``changes``, checked as a whole first."""
    with session_scope() as session:
        row = row_or_raise(
            session, InhibitRule, rule_id, AlertRouteNotFound, "inhibit rule", lock=True
        )
        before = InhibitSpec(row.name, row.source_matchers, row.target_matchers, row.equal)
        for name, value in _inhibit_columns(InhibitSpec(**{**before.__dict__, **changes})).items():
            setattr(row, name, value)
    return row


def delete_inhibit_rule(rule_id: uuid.UUID) -> None:
    """Remove an inhibit rule."""
    _delete(INHIBIT_RULES, rule_id)


# -- silences ------------------------------------------------------------------------------


def silence_state(row: SilenceRow, at: datetime | None = None) -> str:
    """``pending`` (not begun), ``active`` or ``expired``."""
    at = at or utcnow()
    if at < row.starts_at:
        return "pending"
    return "active" if at < row.ends_at else "expired"


def create_silence(
    matchers: Any,
    ends_at: datetime,
    comment: str,
    created_by: str,
    starts_at: datetime | None = None,
) -> SilenceRow:
    """Store a silence: matchers that match something (at least one), an end after its start
    (and in the future), at most a year long, and a comment saying why."""
    now = utcnow()
    starts = starts_at or now
    checked = documents(parse(matchers, "matchers", required=True, kind=InvalidSilence))
    if ends_at <= starts:
        raise invalid("ends_at", "must be after starts_at", InvalidSilence)
    if ends_at <= now:
        raise invalid("ends_at", "is in the past: the silence would never mute", InvalidSilence)
    if ends_at - starts > timedelta(seconds=MAX_SILENCE_S):
        raise invalid("ends_at", "a silence lasts at most 366 days", InvalidSilence)
    if not isinstance(comment, str) or not comment.strip():
        raise invalid("comment", "say why (who is on it, the ticket)", InvalidSilence)
    try:
        check_text("comment", comment, MAX_COMMENT)
    except Unstorable as error:
        raise invalid("comment", error.message, InvalidSilence) from None
    row = SilenceRow(
        matchers=checked, starts_at=starts, ends_at=ends_at, comment=comment,
        created_by=created_by[:200],
    )  # fmt: skip
    with session_scope() as session:
        session.add(row)
    return row


def list_silences(
    before: tuple[datetime, uuid.UUID] | None, limit: int, state: str | None = None
) -> list[SilenceRow]:
    """Up to ``limit`` silences created before ``before``, newest first (of one state)."""
    now = utcnow()
    query: Select[tuple[SilenceRow]] = select(SilenceRow)
    if state == "pending":
        query = query.where(SilenceRow.starts_at > now)
    elif state == "active":
        query = query.where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    elif state == "expired":
        query = query.where(SilenceRow.ends_at <= now)
    return newest_page(query, SilenceRow.created_at, SilenceRow.id, before, limit)  # type: ignore[arg-type]


def get_silence(silence_id: uuid.UUID) -> SilenceRow:
    """The silence with ``silence_id``, or :class:`SilenceNotFound`."""
    return get_or_raise(SilenceRow, silence_id, SilenceNotFound, "silence")


def expire_silence(silence_id: uuid.UUID) -> SilenceRow:
    """End a silence now (one that has ended already stays as it is)."""
    with session_scope() as session:
        row = row_or_raise(session, SilenceRow, silence_id, SilenceNotFound, "silence", lock=True)
        now = utcnow()
        if row.ends_at > now:
            row.ends_at = now
            row.starts_at = min(row.starts_at, now)
    return row
