"""The alert instance's transition table: the state diagram in docs/architecture.md draws
exactly it, and every move that notifies is a FIRING into firing or a RESOLVED out of it."""

from __future__ import annotations

from tasks.alerts.states import ALERTING, TRANSITIONS, AlertEvent, AlertState, Notice
from tests.support.diagrams import assert_draws_exactly
from workers.states import Actor


def test_the_diagram_draws_exactly_the_transition_table() -> None:
    assert_draws_exactly("## Alert evaluation", TRANSITIONS, ends=())  # an instance never ends


def test_a_firing_is_sent_entering_firing_and_a_resolved_leaving_it() -> None:
    for move in TRANSITIONS:
        entering = move.target is AlertState.FIRING and move.source not in ALERTING
        leaving = move.source in ALERTING and move.target not in ALERTING
        expected = Notice.FIRING if entering else Notice.RESOLVED if leaving else None
        assert move.notice is expected, move


def test_a_flap_back_to_firing_sends_nothing_and_only_an_operator_resets() -> None:
    refire = [t for t in TRANSITIONS if t.event is AlertEvent.REFIRE]
    assert [(t.source, t.target, t.notice) for t in refire] == [
        (AlertState.RECOVERING, AlertState.FIRING, None)
    ]
    assert {t.actor for t in TRANSITIONS if t.event is AlertEvent.RESET} == {Actor.OPERATOR}
    assert AlertState.FIRING.may_become(AlertState.INACTIVE, Actor.OPERATOR)
    assert not AlertState.PENDING.may_become(AlertState.RECOVERING, Actor.WORKER)
