"""What one slot's reading does to an instance: a pure function of its state, the reading, the
rule's condition and the slot's time (never "now"), tested as a table in
``tests/unit/test_alert_decision.py``. The writes that apply a decision are in
:mod:`tasks.alerts.instances`."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tasks.alerts.states import AlertEvent, AlertState, AlertTransition, transition


class Op(StrEnum):
    """How a value is compared with the threshold."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
}


class Policy(StrEnum):
    """What a slot with no data, or whose evaluation failed, means: the condition is false
    (``ok``), true (``alerting``), or the instance stays as it is (``keep_last``)."""

    OK = "ok"
    ALERTING = "alerting"
    KEEP_LAST = "keep_last"


@dataclass(frozen=True)
class Condition:
    """What the decision needs of a rule."""

    op: Op
    threshold: float
    recovery_threshold: float | None = None
    for_s: int = 0
    keep_firing_for_s: int = 0
    no_data: Policy = Policy.OK
    on_error: Policy = Policy.KEEP_LAST

    def holds(self, value: float, state: AlertState) -> bool:
        """Whether ``value`` meets the condition for an instance in ``state``: one that is
        firing (or recovering) is held to ``recovery_threshold`` when the rule has one."""
        threshold = self.threshold
        alerting = state in (AlertState.FIRING, AlertState.RECOVERING)
        if alerting and self.recovery_threshold is not None:
            threshold = self.recovery_threshold
        return _COMPARE[self.op](value, threshold)


@dataclass(frozen=True)
class Missing:
    """A reading without a value: no data (the source returned no row for the instance's
    labels), or an error (the evaluation failed)."""

    error: str | None = None


#: The reading of a slot in which the source answered, but not for this instance.
NO_DATA = Missing()
Reading = float | Missing


@dataclass(frozen=True)
class Current:
    """An instance as the decision sees it: its state and the slot its state began."""

    state: AlertState
    since: datetime


def _truth(current: Current, reading: Reading, condition: Condition) -> bool | None:
    """Whether the condition holds for this reading; ``None``: keep the last state."""
    if isinstance(reading, Missing):
        policy = condition.on_error if reading.error is not None else condition.no_data
        return None if policy is Policy.KEEP_LAST else policy is Policy.ALERTING
    return condition.holds(reading, current.state)


def _lasted(current: Current, slot_at: datetime, seconds: int) -> bool:
    return (slot_at - current.since).total_seconds() >= seconds


def decide(
    current: Current, reading: Reading, condition: Condition, slot_at: datetime
) -> AlertTransition | None:
    """The move this slot's reading makes (``None``: the instance stays as it is).

    The timers run from ``current.since``, a stored slot time, to ``slot_at``: a restart, a
    late slot or another evaluator changes nothing about when an instance fires or resolves."""
    true = _truth(current, reading, condition)
    if true is None:
        return None
    state, S, E = current.state, AlertState, AlertEvent
    if state is S.INACTIVE:
        if not true:
            return None
        if condition.for_s > 0:
            return transition(S.INACTIVE, S.PENDING, E.PEND)
        return transition(S.INACTIVE, S.FIRING, E.FIRE)
    if state is S.PENDING:
        if not true:
            return transition(S.PENDING, S.INACTIVE, E.CLEAR)
        if _lasted(current, slot_at, condition.for_s):
            return transition(S.PENDING, S.FIRING, E.FIRE)
        return None
    if state is S.FIRING:
        if true:
            return None
        if condition.keep_firing_for_s > 0:
            return transition(S.FIRING, S.RECOVERING, E.RECOVER)
        return transition(S.FIRING, S.INACTIVE, E.RESOLVE)
    # recovering
    if true:
        return transition(S.RECOVERING, S.FIRING, E.REFIRE)
    if _lasted(current, slot_at, condition.keep_firing_for_s):
        return transition(S.RECOVERING, S.INACTIVE, E.RESOLVE)
    return None
