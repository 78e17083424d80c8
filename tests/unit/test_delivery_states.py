"""The delivery's transition table: the state diagram in docs/architecture.md draws exactly it,
and the status sets the code uses are derived from it."""

from __future__ import annotations

from tasks.notifications import states
from tasks.notifications.states import DeliveryEvent, DeliveryStatus
from tests.support.diagrams import assert_draws_exactly
from workers.states import Actor


def test_the_diagram_draws_exactly_the_transition_table() -> None:
    assert_draws_exactly("### Deliveries", states.TRANSITIONS, states.FINISHED)


def test_finished_and_replayable_are_derived_from_the_table() -> None:
    assert {s.value for s in states.FINISHED} == {"sent", "failed", "dead", "cancelled"}
    assert {s.value for s in states.REPLAYABLE} == {"failed", "dead", "cancelled"}


def test_only_a_worker_sends_and_only_from_a_claim() -> None:
    into_sent = {t for t in states.TRANSITIONS if t.target is DeliveryStatus.SENT}
    assert {(t.source, t.actor) for t in into_sent} == {(DeliveryStatus.SENDING, Actor.WORKER)}
    claims = {t.source for t in states.TRANSITIONS if t.event is DeliveryEvent.CLAIM}
    assert claims == {DeliveryStatus.QUEUED, DeliveryStatus.SCHEDULED, DeliveryStatus.RETRYING}
    assert DeliveryStatus.SENDING.may_become(DeliveryStatus.SENDING, Actor.WORKER)  # resend
    assert not DeliveryStatus.SENT.may_become(DeliveryStatus.SENDING, Actor.WORKER)
    assert not DeliveryStatus.SENDING.may_become(DeliveryStatus.CANCELLED, Actor.OPERATOR)
