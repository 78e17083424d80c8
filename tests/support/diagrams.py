"""The state diagrams of docs/architecture.md as data, for the tests that hold each one equal
to its transition table (jobs, deliveries)."""

from __future__ import annotations

import re
from pathlib import Path

ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"
#: ``source --> target: event (actor, actor)``; ``[*]`` is the record's creation or end.
ARROW = re.compile(r"^(\[\*\]|\w+) --> (\[\*\]|\w+)(?:: (\w+) \((\w+(?:, \w+)*)\))?$")
#: A drawn move: source (``None``: created), target, event, actor; all as written.
Drawn = tuple[str | None, str, str, str]


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
        source, target, event, actors = match.groups()
        if target == "[*]":
            ends.add(source)
            continue
        assert event is not None, f"an arrow without 'event (actor)': {line!r}"
        start = None if source == "[*]" else source
        rows.update((start, target, event, actor) for actor in actors.split(", "))
    return rows, ends
