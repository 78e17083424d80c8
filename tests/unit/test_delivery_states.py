"""The delivery's transition table: the state diagram in docs/architecture.md draws exactly it,
and the status sets the code uses are derived from it."""

from __future__ import annotations

from tasks.notifications.states import (
    FINISHED,
    REPLAYABLE,
    TRANSITIONS,
    DeliveryEvent,
    DeliveryStatus,
)
from tests.support.diagrams import drawn_transitions
from workers.states import Actor

Row = tuple[DeliveryStatus | None, DeliveryStatus, DeliveryEvent, Actor]


def _diagram() -> tuple[set[Row], set[DeliveryStatus]]:
    drawn, ends = drawn_transitions("### Deliveries")
    status = DeliveryStatus
    rows = {(None if source is None else status(source), status(target), DeliveryEvent(event),
             Actor(actor)) for source, target, event, actor in drawn}  # fmt: skip
    return rows, {DeliveryStatus(end) for end in ends}


def test_the_diagram_draws_exactly_the_transition_table() -> None:
    drawn, ends = _diagram()
    table = {(t.source, t.target, t.event, t.actor) for t in TRANSITIONS}
    assert drawn - table == set(), "drawn in docs/architecture.md but not in TRANSITIONS"
    assert table - drawn == set(), "in TRANSITIONS but not drawn in docs/architecture.md"
    assert ends == FINISHED


def test_finished_and_replayable_are_derived_from_the_table() -> None:
    assert {s.value for s in FINISHED} == {"sent", "failed", "dead", "cancelled"}
    assert {s.value for s in REPLAYABLE} == {"failed", "dead", "cancelled"}


def test_only_a_worker_sends_and_only_from_a_claim() -> None:
    into_sent = {t for t in TRANSITIONS if t.target is DeliveryStatus.SENT}
    assert {(t.source, t.actor) for t in into_sent} == {(DeliveryStatus.SENDING, Actor.WORKER)}
    claims = {t.source for t in TRANSITIONS if t.event is DeliveryEvent.CLAIM}
    assert claims == {DeliveryStatus.QUEUED, DeliveryStatus.SCHEDULED, DeliveryStatus.RETRYING}
    assert DeliveryStatus.SENDING.may_become(DeliveryStatus.SENDING, Actor.WORKER)  # resend
    assert not DeliveryStatus.SENT.may_become(DeliveryStatus.SENDING, Actor.WORKER)
    assert not DeliveryStatus.SENDING.may_become(DeliveryStatus.CANCELLED, Actor.OPERATOR)
