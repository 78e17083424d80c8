"""What every state machine of the platform is made of: who moves a record (:class:`Actor`), one
allowed move (:class:`Transition`) and the table of all of them (:class:`TransitionTable`).

A job (:mod:`workers.store.models`), a delivery (:mod:`tasks.notifications.states`) and an
alert instance (:mod:`tasks.alerts.states`) each declare their states as a
:class:`TableStates` enum and their moves as one table; the guards that the writes check
(which states an event leaves, whether an actor may make a move) are read from that table, never
written out again. ``docs/architecture.md`` draws each table, and a unit test per machine
holds the drawing equal to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Self, TypeVar

S = TypeVar("S", bound="TableStates")
E = TypeVar("E", bound=StrEnum)
T = TypeVar("T", bound="Transition[Any, Any]")


class Actor(StrEnum):
    """Who moves a record: each process (or person) makes only its own transitions."""

    PRODUCER = "producer"
    DISPATCHER = "dispatcher"
    WORKER = "worker"
    REAPER = "reaper"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Transition(Generic[S, E]):
    """One allowed move: ``event``, made by ``actor``, takes a record from ``source``
    (``None``: the record is created) to ``target``."""

    source: S | None
    target: S
    event: E
    actor: Actor


class TableStates(StrEnum):
    """The states of a record whose moves are a :class:`TransitionTable`; the table answers
    for its states once it is built."""

    @classmethod
    def sources(cls, event: StrEnum, actor: Actor | None = None) -> frozenset[Self]:
        """The states ``event`` (made by ``actor``, or by anyone) moves a record out of."""
        return _table_of(cls).sources(event, actor)

    def may_become(self, target: Self, actor: Actor) -> bool:
        """Whether ``actor`` may move a record from this state to ``target``."""
        return _table_of(type(self)).allows(self, target, actor)


class TransitionTable(Generic[S, T]):
    """Every move records with states ``S`` may make, as rows ``T``; iterating it gives the rows
    in the order written."""

    def __init__(self, states: type[S], rows: Iterable[T]) -> None:
        self.rows: tuple[T, ...] = tuple(rows)
        self._events = {type(row.event) for row in self.rows}
        self._moves = frozenset((t.source, t.target, t.actor) for t in self.rows)
        self._by_move = {(t.source, t.target, t.event): t for t in self.rows}
        #: Final: no transition leaves them.
        self.finished: frozenset[S] = frozenset(set(states) - {t.source for t in self.rows})
        #: What a new record starts as.
        self.created: frozenset[S] = frozenset(t.target for t in self.rows if t.source is None)
        _TABLES[states] = self

    def __iter__(self) -> Iterator[T]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def sources(self, event: StrEnum, actor: Actor | None = None) -> frozenset[S]:
        """The states ``event`` (made by ``actor``, or by anyone) moves a record out of."""
        if type(event) not in self._events:
            raise TypeError(f"{event!r} is not an event of this table")
        return frozenset(
            t.source
            for t in self.rows
            if t.event is event and t.source is not None and actor in (None, t.actor)
        )

    def allows(self, source: S, target: S, actor: Actor) -> bool:
        """Whether ``actor`` may move a record from ``source`` to ``target``."""
        return (source, target, actor) in self._moves

    def row(self, source: S | None, target: S, event: StrEnum) -> T:
        """The row for this move; ``ValueError`` when there is none."""
        found = self._by_move.get((source, target, event))
        if found is None:
            raise ValueError(f"no transition {source} --{event}--> {target}")
        return found


#: Each :class:`TableStates` enum's table, registered as the table is built.
_TABLES: dict[type[TableStates], TransitionTable[Any, Any]] = {}


def _table_of(states: type[S]) -> TransitionTable[S, Any]:
    return _TABLES[states]
