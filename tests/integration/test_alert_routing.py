"""Routes, groups, silences and inhibition on both stores, slot by slot with explicit times,
with notices reaching a webhook sink on loopback: a group sends once for alerts firing
together, again when one resolves (after group_interval_s) and when repeat_interval_s
passes; a silence mutes until it is expired; a firing alert inhibits another; two flushes at
once and a crash between the write and the send each make one notification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from tasks.alerts import route_store, routing, rule_store
from tasks.alerts.decision import Op
from tasks.alerts.evaluation import evaluate_due, slot_of
from tasks.alerts.route_store import InhibitSpec, RouteSpec
from tasks.alerts.rules import RuleSpec
from tasks.alerts.sources import SourceKind
from tests.support.alerts import deliver_alert_notices, sql_rule
from tests.support.channels import webhook_channels
from tests.support.sinks import HttpSink
from workers.store.engine import get_engine, session_scope
from workers.store.models import AlertEventRow, AlertGroup, AlertGroupNotice
from workers.store.types import utcnow


@pytest.fixture(scope="module", autouse=True)
def signals(sink: HttpSink) -> Iterator[None]:
    """The ``routed-hook`` channel, and the table the rules read their signals from."""
    with webhook_channels(sink, "routed-hook"):
        with get_engine().begin() as connection:
            connection.execute(
                text("CREATE TABLE signals (team VARCHAR(20), kind VARCHAR(20), value FLOAT)")
            )
        yield


@pytest.fixture(autouse=True)
def fresh(signals: None, sink: HttpSink) -> Iterator[None]:
    deliver_alert_notices()  # what an earlier test left owed (a removed rule's RESOLVED) goes first
    sink.received.clear()
    yield
    for rule in rule_store.list_rules(None, 100):
        rule_store.delete_rule(rule.id)
    for route in route_store.list_routes(None, 100):
        route_store.delete_route(route.id)
    for inhibit in route_store.list_inhibit_rules(None, 100):
        route_store.delete_inhibit_rule(inhibit.id)
    for silence in route_store.list_silences(None, 100):
        route_store.expire_silence(silence.id)
    _set()
    sink.received.clear()


def _set(**values: float) -> None:
    """The signal each (team) reads; teams not named read nothing."""
    with get_engine().begin() as connection:
        connection.execute(text("DELETE FROM signals"))
        for key, value in values.items():
            team, _, kind = key.partition("_")
            connection.execute(
                text("INSERT INTO signals VALUES (:team, :kind, :value)"),
                {"team": team, "kind": kind or "down", "value": value},
            )


QUERIES = {
    "down": "SELECT team, value FROM signals WHERE kind = 'down'",
    "slow": "SELECT team, value FROM signals WHERE kind = 'slow'",
}


def _rule(name: str, kind: str = "down") -> None:
    """A rule with channels of its own, which routed alerts bypass."""
    sql_rule(name, QUERIES[kind], ("routed-hook",))


def _route(**fields: object) -> None:
    base: dict[str, object] = {"name": "ops", "channels": ["routed-hook"], "group_wait_s": 0,
                               "group_interval_s": 30, "repeat_interval_s": 300}  # fmt: skip
    route_store.create_route(RouteSpec(**{**base, **fields}))  # type: ignore[arg-type]


def _received(sink: HttpSink) -> list[str]:
    deliver_alert_notices()
    subjects = [json.loads(r.body)["subject"] for r in sink.received]
    sink.received.clear()
    return subjects


def _start() -> datetime:
    return slot_of(utcnow(), 10) + timedelta(seconds=10)


def at(t0: datetime, seconds: int) -> datetime:
    return t0 + timedelta(seconds=seconds)


def test_a_group_sends_together_then_on_change_then_on_repeat(sink: HttpSink) -> None:
    # Given a route grouping by alertname, and one rule firing for two teams at once
    _route()
    _rule("DbDown")
    t0 = _start()
    _set(db=1, web=1)
    evaluate_due(t0)
    # Then one notice names both
    assert _received(sink) == ["[FIRING:2] alertname=DbDown"]
    # And the per-transition notices were taken by the route, not sent on their own
    with session_scope() as session:
        routed = list(
            session.scalars(select(AlertEventRow.routes).where(AlertEventRow.notice.is_not(None)))
        )
    assert routed == [["ops"], ["ops"]]
    # When web recovers: nothing before group_interval_s, then firing 1 and resolved 1
    _set(db=1)
    evaluate_due(at(t0, 10))
    assert _received(sink) == []
    evaluate_due(at(t0, 30))
    assert _received(sink) == ["[FIRING:1 RESOLVED:1] alertname=DbDown"]
    # Unchanged: again only after repeat_interval_s
    evaluate_due(at(t0, 300))
    assert _received(sink) == []
    evaluate_due(at(t0, 330))
    assert _received(sink) == ["[FIRING:1] alertname=DbDown"]
    # And when the last resolves, one RESOLVED
    _set()
    evaluate_due(at(t0, 370))
    assert _received(sink) == ["[RESOLVED:1] alertname=DbDown"]
    evaluate_due(at(t0, 800))
    assert _received(sink) == []
    # And once its alerts are gone, so is the group
    rule_store.delete_rule(rule_store.find_rule("DbDown").id)
    evaluate_due(at(t0, 810))
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(AlertGroup)) == 0


def test_an_alert_no_route_matches_goes_to_its_rules_channels(sink: HttpSink) -> None:
    _route(matchers=["team=web"])
    rule_store.create_rule(
        RuleSpec(
            name="Solo",
            source=SourceKind.SQL,
            op=Op.GT,
            threshold=0.0,
            spec={"query": "SELECT team, value FROM signals WHERE kind = 'down'"},
            interval_s=10,
            channels=("routed-hook",),
        )
    )
    _set(db=1)
    evaluate_due(_start())
    assert _received(sink) == ["[FIRING] Solo: 1.0 > 0.0"]


def test_a_silence_mutes_until_it_is_expired(sink: HttpSink) -> None:
    _route(group_by=["team"])
    _rule("DbDown")
    silence = route_store.create_silence(["team=db"], utcnow() + timedelta(hours=1), "maint", "op")
    t0 = _start()
    _set(db=1, web=1)
    evaluate_due(t0)
    assert _received(sink) == ["[FIRING:1] team=web"]
    muted = routing.muted_now(t0)
    assert [m.silenced_by for m in muted.values()] == [(str(silence.id),)]
    route_store.expire_silence(silence.id)
    evaluate_due(at(t0, 10))
    assert _received(sink) == ["[FIRING:1] team=db"]


def test_a_silenced_alert_that_resolves_still_sends_its_resolved(sink: HttpSink) -> None:
    _route(group_by=["team"])
    _rule("DbDown")
    t0 = _start()
    _set(db=1)
    evaluate_due(t0)
    assert _received(sink) == ["[FIRING:1] team=db"]
    route_store.create_silence(["team=db"], utcnow() + timedelta(hours=1), "late", "op")
    evaluate_due(at(t0, 300))  # muted: no repeat
    assert _received(sink) == []
    _set()
    evaluate_due(at(t0, 330))
    assert _received(sink) == ["[RESOLVED:1] team=db"]


def test_a_firing_alert_inhibits_another_equal_on_the_named_labels(sink: HttpSink) -> None:
    _route(group_by=["alertname", "team"])
    _rule("DbDown", "down")
    _rule("DbSlow", "slow")
    route_store.create_inhibit_rule(
        InhibitSpec("down-mutes-slow", ["alertname=DbDown"], ["alertname=DbSlow"], ["team"])
    )
    t0 = _start()
    _set(db_down=1, db_slow=1, web_slow=1)
    evaluate_due(t0)
    assert sorted(_received(sink)) == [
        "[FIRING:1] alertname=DbDown, team=db",
        "[FIRING:1] alertname=DbSlow, team=web",
    ]
    assert [m.inhibited_by for m in routing.muted_now(t0).values()] == [("down-mutes-slow",)]


def test_two_flushes_at_once_and_a_resend_make_one_notification(sink: HttpSink) -> None:
    _route()
    _rule("DbDown")
    t0 = _start()
    _set(db=1)
    # The evaluation writes transitions; the group flushes race
    from tasks.alerts import notices

    original = routing.flush_groups
    routing.flush_groups = lambda at=None: routing.FlushReport()  # type: ignore[assignment]
    try:
        evaluate_due(t0)
    finally:
        routing.flush_groups = original  # type: ignore[assignment]
    notices.flush()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: routing.flush_groups(t0), range(4)))
    with session_scope() as session:
        owed = list(session.scalars(select(AlertGroupNotice)))
    assert [n.seq for n in owed] == [1]
    # A crash after the send but before its mark: sending again is the same notification
    with session_scope() as session:
        session.execute(AlertGroupNotice.__table__.update().values(notified_at=None))
    routing.send_owed()
    assert _received(sink) == ["[FIRING:1] alertname=DbDown"]
