"""What one slot's reading does to an alert instance, as a table: every transition the
evaluator makes, the timers run from stored slot times, and no data or an error following the
rule's policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tasks.alerts.decision import NO_DATA, Condition, Current, Missing, Op, Policy, Reading, decide
from tasks.alerts.states import TRANSITIONS, AlertEvent, AlertState
from workers.states import Actor

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RULE = Condition(Op.GT, 10.0, for_s=60, keep_firing_for_s=120)
N, P, F, R = AlertState.INACTIVE, AlertState.PENDING, AlertState.FIRING, AlertState.RECOVERING
E = AlertEvent
ERROR = Missing("the query timed out")


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


CASES = [
    # state, entered (s after T0), reading, condition, slot (s after T0), event, target
    (N, 0, 5.0, RULE, 0, None, N),
    (N, 0, 11.0, RULE, 0, E.PEND, P),
    (N, 0, 11.0, replace(RULE, for_s=0), 0, E.FIRE, F),
    (P, 0, 11.0, RULE, 30, None, P),  # true, but not yet for for_s
    (P, 0, 11.0, RULE, 60, E.FIRE, F),  # true for for_s: fires
    (P, 0, 5.0, RULE, 30, E.CLEAR, N),
    (F, 60, 11.0, RULE, 90, None, F),
    (F, 60, 5.0, RULE, 90, E.RECOVER, R),
    (F, 60, 5.0, replace(RULE, keep_firing_for_s=0), 90, E.RESOLVE, N),
    (R, 90, 5.0, RULE, 150, None, R),  # false, keep_firing_for_s still running
    (R, 90, 5.0, RULE, 210, E.RESOLVE, N),  # false for keep_firing_for_s: resolved
    (R, 90, 11.0, RULE, 150, E.REFIRE, F),  # a flap inside keep_firing_for_s
    # recovery threshold: a firing instance stays firing until the value is at most 4
    (F, 60, 5.0, replace(RULE, recovery_threshold=4.0), 90, None, F),
    (F, 60, 4.0, replace(RULE, recovery_threshold=4.0), 90, E.RECOVER, R),
    (P, 0, 5.0, replace(RULE, recovery_threshold=4.0), 30, E.CLEAR, N),  # pending: threshold
    # no data and errors follow the rule's policy
    (F, 60, NO_DATA, RULE, 90, E.RECOVER, R),  # no_data ok: false
    (N, 0, NO_DATA, replace(RULE, no_data=Policy.ALERTING), 0, E.PEND, P),
    (P, 0, NO_DATA, replace(RULE, no_data=Policy.KEEP_LAST), 600, None, P),
    (F, 60, ERROR, RULE, 90, None, F),  # on_error keep_last (the default)
    (F, 60, ERROR, replace(RULE, on_error=Policy.OK), 90, E.RECOVER, R),
    (N, 0, ERROR, replace(RULE, on_error=Policy.ALERTING, for_s=0), 0, E.FIRE, F),
]


@pytest.mark.parametrize(
    ("state", "entered", "reading", "condition", "slot", "event", "target"), CASES
)
def test_decide(
    state: AlertState,
    entered: int,
    reading: Reading,
    condition: Condition,
    slot: int,
    event: AlertEvent | None,
    target: AlertState,
) -> None:
    move = decide(Current(state, _at(entered)), reading, condition, _at(slot))
    if event is None:
        assert move is None
        assert state is target
    else:
        assert move is not None
        assert (move.source, move.target, move.event) == (state, target, event)
        assert move.actor is Actor.WORKER


def test_the_table_covers_every_move_the_evaluator_makes() -> None:
    made = {(state, event) for state, _, _, _, _, event, _ in CASES if event is not None}
    evaluator = {
        (t.source, t.event) for t in TRANSITIONS if t.actor is Actor.WORKER and t.source is not None
    }
    assert evaluator <= made


@pytest.mark.parametrize("op", list(Op))
def test_each_op_compares_value_with_threshold(op: Op) -> None:
    expected = {
        Op.GT: (False, False, True),
        Op.GE: (False, True, True),
        Op.LT: (True, False, False),
        Op.LE: (True, True, False),
        Op.EQ: (False, True, False),
        Op.NE: (True, False, True),
    }[op]
    condition = Condition(op, 10.0)
    assert tuple(condition.holds(v, N) for v in (9.0, 10.0, 11.0)) == expected
