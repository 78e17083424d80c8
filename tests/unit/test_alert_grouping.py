"""Matchers, the route tree, muting and a group's flush decision, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks.alerts import grouping as g
from tasks.alerts.errors import InvalidAlertRoute, InvalidSilence
from tasks.alerts.grouping import Alert, Flush, Inhibition, Log, Route, Silence, Wait
from tasks.alerts.matchers import matches, parse

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def m(*texts: str) -> tuple:  # type: ignore[type-arg]
    return parse(list(texts), "matchers")


@pytest.mark.parametrize(
    ("texts", "labels", "passes"),
    [
        (["team=db"], {"team": "db"}, True),
        (["team=db"], {"team": "web"}, False),
        (["team!=db"], {}, True),
        (['team=""'], {}, True),
        (['team=""'], {"team": "db"}, False),
        (['team=~"db|web"'], {"team": "web"}, True),
        (['team=~"db"'], {"team": "dba"}, False),  # the whole value must match
        (['team!~"d.*"'], {"team": "web"}, True),
        (["team=db", "severity=critical"], {"team": "db", "severity": "warning"}, False),
        ([], {"anything": "x"}, True),
    ],
)
def test_matchers_select_label_sets(texts: list[str], labels: dict[str, str], passes: bool) -> None:
    assert matches(parse(texts, "matchers"), labels) is passes


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (["team=db", "team=web"], "can never match"),
        (["team=db", "team!=db"], "can never match"),
        (["team=db", 'team=~"w.*"'], "can never match"),
        (["team=db", 'team!~"d.*"'], "can never match"),
        (['team=~"("'], "not a regular expression"),
        (["9team=x"], "is not name=value"),
        ([{"name": "team", "op": "~", "value": "x"}], "not one of"),
        ([{"name": "team", "value": "x", "extra": 1}], "unknown keys"),
        ("team=db", "must be a list"),
        ([3], "must be"),
    ],
)
def test_matchers_that_cannot_work_are_refused_naming_the_field(raw: object, says: str) -> None:
    with pytest.raises(InvalidAlertRoute) as caught:
        parse(raw, "matchers")
    assert says in caught.value.message
    assert caught.value.message.startswith("matchers")


def test_a_silence_may_not_match_everything_and_says_so_as_a_silence_error() -> None:
    with pytest.raises(InvalidSilence) as caught:
        parse([], "matchers", required=True, kind=InvalidSilence)
    assert caught.value.code == "invalid_silence"


TREE = Route(
    "(root)",
    group_by=(),
    children=(
        Route(
            "db", m("team=db"), continues=True, children=(Route("db-crit", m("severity=critical")),)
        ),
        Route("db-audit", m("team=db")),
        Route("web", m("team=web")),
        Route("never", m("team=web")),  # shadowed by "web", which does not continue
    ),
)


@pytest.mark.parametrize(
    ("labels", "ends_at"),
    [
        ({"team": "db", "severity": "critical"}, ["db-crit", "db-audit"]),
        ({"team": "db", "severity": "warning"}, ["db", "db-audit"]),
        ({"team": "web"}, ["web"]),
        ({"team": "ops"}, []),
    ],
)
def test_an_alert_ends_at_the_deepest_routes_it_matches(
    labels: dict[str, str], ends_at: list[str]
) -> None:
    assert [r.name for r in g.routes_of(TREE, labels)] == ends_at


def test_group_by_picks_labels_and_the_ellipsis_takes_them_all() -> None:
    labels = {"alertname": "a", "team": "db", "host": "h1"}
    assert g.group_labels(Route("r", group_by=("team",)), labels) == {"team": "db"}
    assert g.group_labels(Route("r", group_by=("cluster",)), labels) == {"cluster": ""}
    assert g.group_labels(Route("r", group_by=("...",)), labels) == labels


DOWN = Alert("db-down", {"alertname": "DbDown", "cluster": "c1"}, firing=True)
SLOW = Alert("db-slow", {"alertname": "DbSlow", "cluster": "c1"}, firing=True)
OTHER = Alert("db-slow-2", {"alertname": "DbSlow", "cluster": "c2"}, firing=True)
RULE = Inhibition("down-mutes-slow", m("alertname=DbDown"), m("alertname=DbSlow"), ("cluster",))


@pytest.mark.parametrize(
    ("alert", "firing", "muted"),
    [
        (SLOW, [DOWN, SLOW], True),
        (OTHER, [DOWN, OTHER], False),  # another cluster: equal labels differ
        (SLOW, [SLOW], False),  # no source firing
        (DOWN, [DOWN], False),  # the source is not a target
    ],
)
def test_a_firing_source_inhibits_targets_equal_on_the_named_labels(
    alert: Alert, firing: list[Alert], muted: bool
) -> None:
    assert bool(g.inhibited_by(alert, firing, [RULE])) is muted


def test_an_alert_matching_both_sides_does_not_inhibit_itself() -> None:
    both = Inhibition("self", m('alertname=~"Db.*"'), m('alertname=~"Db.*"'))
    assert g.inhibited_by(DOWN, [DOWN], [both]) == []
    assert g.inhibited_by(DOWN, [DOWN, SLOW], [both]) == ["self"]


def test_a_silence_mutes_only_while_it_runs() -> None:
    silence = Silence("s1", m("cluster=c1"), at(0), at(60))
    assert g.silenced_by(SLOW, [silence], at(-1)) == []
    assert g.silenced_by(SLOW, [silence], at(0)) == ["s1"]
    assert g.silenced_by(SLOW, [silence], at(60)) == []
    assert g.silenced_by(OTHER, [silence], at(30)) == []


R = Route("r", group_wait_s=30, group_interval_s=300, repeat_interval_s=3600)
QUIET = Route(
    "q", group_wait_s=30, group_interval_s=300, repeat_interval_s=3600, send_resolved=False
)
A, B = "a", "b"
S = frozenset


@pytest.mark.parametrize(
    ("route", "log", "firing", "resolved", "now", "expect"),
    [
        # a new group waits group_wait_s from its first sighting, then sends what fires
        (R, Log(), S({A}), S(), 0, Wait(Log(S(), None, at(0)), at(30))),
        (R, Log(S(), None, at(0)), S({A, B}), S(), 29, Wait(Log(S(), None, at(0)), at(30))),
        (
            R,
            Log(S(), None, at(0)),
            S({A, B}),
            S(),
            30,
            Flush(S({A, B}), S(), Log(S({A, B}), at(30))),
        ),
        # nothing firing and nothing resolved: nothing to do
        (R, Log(), S(), S(), 0, Wait(Log())),
        # a new alert joins: sent group_interval_s after the last send, with all that fires
        (R, Log(S({A}), at(0)), S({A, B}), S(), 299, Wait(Log(S({A}), at(0)), at(300))),
        (
            R,
            Log(S({A}), at(0)),
            S({A, B}),
            S(),
            300,
            Flush(S({A, B}), S(), Log(S({A, B}), at(300))),
        ),
        # one resolves: the same pace, and the notice names it
        (
            R,
            Log(S({A, B}), at(0)),
            S({A}),
            S({B}),
            300,
            Flush(S({A}), S({B}), Log(S({A}), at(300))),
        ),
        # the last one resolves: a RESOLVED-only notice
        (R, Log(S({A}), at(0)), S(), S({A}), 300, Flush(S(), S({A}), Log(S(), at(300)))),
        # unchanged: sent again only after repeat_interval_s
        (R, Log(S({A}), at(0)), S({A}), S(), 3599, Wait(Log(S({A}), at(0)), at(3600))),
        (R, Log(S({A}), at(0)), S({A}), S(), 3600, Flush(S({A}), S(), Log(S({A}), at(3600)))),
        # muted since it was sent (neither firing here nor resolved): kept, not announced
        (R, Log(S({A, B}), at(0)), S({A}), S(), 300, Wait(Log(S({A, B}), at(0)), at(3600))),
        (R, Log(S({A}), at(0)), S(), S(), 300, Wait(Log(S({A}), at(0)))),
        # send_resolved off: a resolved alert leaves the log without a notice
        (QUIET, Log(S({A, B}), at(0)), S({A}), S({B}), 300, Wait(Log(S({A}), at(0)), at(3600))),
        (QUIET, Log(S({A}), at(0)), S(), S({A}), 300, Wait(Log(S(), at(0)))),
        # a resolved that was never sent as firing is not announced
        (R, Log(S({A}), at(0)), S({A}), S({B}), 300, Wait(Log(S({A}), at(0)), at(3600))),
    ],
)
def test_a_group_flush_sends_on_change_pace_and_repeat(
    route: Route,
    log: Log,
    firing: frozenset[str],
    resolved: frozenset[str],
    now: float,
    expect: Flush | Wait,
) -> None:
    assert g.decide(route, log, firing, resolved, at(now)) == expect
