"""The alert instance's transition table: the state diagram in docs/architecture.md draws
exactly it, and every move that notifies is a FIRING into firing or a RESOLVED out of it."""

from __future__ import annotations

import re
from pathlib import Path

from tasks.alerts.states import ALERTING, TRANSITIONS, AlertEvent, AlertState, Notice
from workers.states import Actor

ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"
ARROW = re.compile(r"^(\[\*\]|\w+) --> (\w+): (\w+) \((\w+)\)(?: (FIRING|RESOLVED))?$")
Row = tuple[AlertState | None, AlertState, AlertEvent, Actor, Notice | None]


def _diagram() -> set[Row]:
    text = ARCHITECTURE.read_text()
    opening = text.index("```mermaid", text.index("## Alert evaluation"))
    lines = [line.strip() for line in text[opening : text.index("```", opening + 3)].splitlines()]
    assert lines[1] == "stateDiagram-v2"
    rows: set[Row] = set()
    for line in filter(None, lines[2:]):
        match = ARROW.match(line)
        assert match is not None, f"not an arrow the test can read: {line!r}"
        source, target, event, actor, notice = match.groups()
        start = None if source == "[*]" else AlertState(source)
        rows.add(
            (
                start,
                AlertState(target),
                AlertEvent(event),
                Actor(actor),
                Notice(notice) if notice else None,
            )
        )
    return rows


def test_the_diagram_draws_exactly_the_transition_table() -> None:
    drawn = _diagram()
    table = {(t.source, t.target, t.event, t.actor, t.notice) for t in TRANSITIONS}
    assert drawn - table == set(), "drawn in docs/architecture.md but not in TRANSITIONS"
    assert table - drawn == set(), "in TRANSITIONS but not drawn in docs/architecture.md"


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
