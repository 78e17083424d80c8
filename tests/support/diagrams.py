"""The state diagrams of docs/architecture.md as data, and the check that holds each one equal
to its transition table (jobs, deliveries, alert instances)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Protocol

ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"
#: ``source --> target: event (actor, actor) NOTICE``; ``[*]`` is the record's creation or end;
#: the notice (``FIRING``, ``RESOLVED``) is drawn only where a move sends one.
ARROW = re.compile(r"^(\[\*\]|\w+) --> (\[\*\]|\w+)(?:: (\w+) \((\w+(?:, \w+)*)\)(?: ([A-Z]+))?)?$")
#: A drawn move: source (``None``: created), target, event, actor, notice (``None``: none);
#: all as written.
Drawn = tuple[str | None, str, str, str, str | None]


class Move(Protocol):
    """A row of a transition table, whatever its type: enum members by value. A table whose
    moves may send a notice has a ``notice`` too."""

    @property
    def source(self) -> Enum | None: ...
    @property
    def target(self) -> Enum: ...
    @property
    def event(self) -> Enum: ...
    @property
    def actor(self) -> Enum: ...


def drawn_transitions(heading: str) -> tuple[set[Drawn], set[str]]:
    """The moves drawn in the first mermaid state diagram after ``heading``, one row per
    actor, and the statuses drawn as ends (``status --> [*]``)."""
    text = ARCHITECTURE.read_text()
    opening = text.index("```mermaid", text.index(heading))
    block = text[opening : text.index("```", opening + 3)]
    lines = [line.strip() for line in block.splitlines()[1:]]
    assert lines[0] == "stateDiagram-v2"
    rows: set[Drawn] = set()
    ends: set[str] = set()
    for line in filter(None, lines[1:]):
        match = ARROW.match(line)
        assert match is not None, f"not an arrow the test can read: {line!r}"
        source, target, event, actors, notice = match.groups()
        if target == "[*]":
            ends.add(source)
            continue
        assert event is not None, f"an arrow without 'event (actor)': {line!r}"
        start = None if source == "[*]" else source
        rows.update((start, target, event, actor, notice) for actor in actors.split(", "))
    return rows, ends


def assert_draws_exactly(heading: str, table: Iterable[Move], ends: Iterable[Enum]) -> None:
    """The first state diagram after ``heading`` draws every move of ``table`` and no other,
    and draws exactly ``ends`` as the statuses a record ends in."""
    drawn, drawn_ends = drawn_transitions(heading)
    rows = {_as_drawn(move) for move in table}
    assert drawn - rows == set(), "drawn in docs/architecture.md but not in TRANSITIONS"
    assert rows - drawn == set(), "in TRANSITIONS but not drawn in docs/architecture.md"
    assert drawn_ends == {end.value for end in ends}


def _as_drawn(move: Move) -> Drawn:
    source = None if move.source is None else move.source.value
    notice = getattr(move, "notice", None)  # only alert instances send notices
    notice_value = None if notice is None else notice.value
    return source, move.target.value, move.event.value, move.actor.value, notice_value
