"""The delivery's transition table: the state diagram in docs/architecture.md draws exactly it,
and the status sets the code uses are derived from it."""

from __future__ import annotations

import re
from pathlib import Path

from tasks.notifications.states import (
    FINISHED,
    REPLAYABLE,
    TRANSITIONS,
    DeliveryEvent,
    DeliveryStatus,
)
from workers.store.models import Actor

ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"
ARROW = re.compile(r"^(\[\*\]|\w+) --> (\[\*\]|\w+)(?:: (\w+) \((\w+(?:, \w+)*)\))?$")
Row = tuple[DeliveryStatus | None, DeliveryStatus, DeliveryEvent, Actor]


def _diagram() -> tuple[set[Row], set[DeliveryStatus]]:
    text = ARCHITECTURE.read_text()
    opening = text.index("```mermaid", text.index("### Deliveries"))
    lines = [line.strip() for line in text[opening : text.index("```", opening + 3)].splitlines()]
    assert lines[1] == "stateDiagram-v2"
    rows: set[Row] = set()
    ends: set[DeliveryStatus] = set()
    for line in filter(None, lines[2:]):
        match = ARROW.match(line)
        assert match is not None, f"not an arrow the test can read: {line!r}"
        source, target, event, actors = match.groups()
        if target == "[*]":
            ends.add(DeliveryStatus(source))
            continue
        start = None if source == "[*]" else DeliveryStatus(source)
        for actor in actors.split(", "):
            rows.add((start, DeliveryStatus(target), DeliveryEvent(event), Actor(actor)))
    return rows, ends


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
