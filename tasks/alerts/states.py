"""The life of an alert instance: its states, and every move between them with who makes it.

An instance is ``inactive`` until its condition holds, ``pending`` while it has held for less
than ``for_s``, ``firing`` once it has held that long, and ``recovering`` while it has been
false for less than ``keep_firing_for_s``; a flap back inside that time is ``firing`` again
with no new notice. :mod:`tasks.alerts.instances` makes every move and derives its guards from
:data:`TRANSITIONS`; ``docs/architecture.md`` draws the same table, and
``tests/unit/test_alert_states.py`` holds the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from workers.store.models import Actor


class AlertState(StrEnum):
    """Where an instance is."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RECOVERING = "recovering"

    def may_become(self, target: AlertState, actor: Actor) -> bool:
        """Whether ``actor`` may move an instance from this state to ``target``."""
        return (self, target, actor) in _MOVES


class AlertEvent(StrEnum):
    """What moves an instance; the label of its arrow in the state diagram."""

    CREATE = "create"
    PEND = "pend"
    FIRE = "fire"
    CLEAR = "clear"
    RECOVER = "recover"
    REFIRE = "refire"
    RESOLVE = "resolve"
    RESET = "reset"


class Notice(StrEnum):
    """What a transition tells the rule's channels."""

    FIRING = "FIRING"
    RESOLVED = "RESOLVED"


@dataclass(frozen=True)
class Transition:
    """One allowed move: ``event``, made by ``actor``, takes an instance from ``source``
    (``None``: the record is created) to ``target``, and sends ``notice`` (or nothing)."""

    source: AlertState | None
    target: AlertState
    event: AlertEvent
    actor: Actor
    notice: Notice | None = None


_S, _E, _A, _N = AlertState, AlertEvent, Actor, Notice
#: Every move an instance may make. The evaluator (a worker) makes them from what a slot's
#: reading says; an operator's edit of a rule's source, condition or labels resets its
#: instances, and one that had fired is RESOLVED, so no FIRING is left without its end.
TRANSITIONS = (
    Transition(None, _S.INACTIVE, _E.CREATE, _A.WORKER),
    Transition(_S.INACTIVE, _S.PENDING, _E.PEND, _A.WORKER),
    Transition(_S.INACTIVE, _S.FIRING, _E.FIRE, _A.WORKER, _N.FIRING),
    Transition(_S.PENDING, _S.FIRING, _E.FIRE, _A.WORKER, _N.FIRING),
    Transition(_S.PENDING, _S.INACTIVE, _E.CLEAR, _A.WORKER),
    Transition(_S.FIRING, _S.RECOVERING, _E.RECOVER, _A.WORKER),
    Transition(_S.RECOVERING, _S.FIRING, _E.REFIRE, _A.WORKER),
    Transition(_S.FIRING, _S.INACTIVE, _E.RESOLVE, _A.WORKER, _N.RESOLVED),
    Transition(_S.RECOVERING, _S.INACTIVE, _E.RESOLVE, _A.WORKER, _N.RESOLVED),
    Transition(_S.PENDING, _S.INACTIVE, _E.RESET, _A.OPERATOR),
    Transition(_S.FIRING, _S.INACTIVE, _E.RESET, _A.OPERATOR, _N.RESOLVED),
    Transition(_S.RECOVERING, _S.INACTIVE, _E.RESET, _A.OPERATOR, _N.RESOLVED),
)
_MOVES = frozenset((t.source, t.target, t.actor) for t in TRANSITIONS)
_BY_MOVE = {(t.source, t.target, t.event): t for t in TRANSITIONS}
#: The states in which an instance counts as alerting (its FIRING sent, its RESOLVED not).
ALERTING = frozenset({AlertState.FIRING, AlertState.RECOVERING})


def transition(source: AlertState | None, target: AlertState, event: AlertEvent) -> Transition:
    """The row of :data:`TRANSITIONS` for this move; ``ValueError`` when there is none."""
    found = _BY_MOVE.get((source, target, event))
    if found is None:
        raise ValueError(f"no alert transition {source} --{event}--> {target}")
    return found
