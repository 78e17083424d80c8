"""The life of an alert instance: its states, and every move between them with who makes it.

An instance is ``inactive`` until its condition holds, ``pending`` while it has held for less
than ``for_s``, ``firing`` once it has held that long, and ``recovering`` while it has been
false for less than ``keep_firing_for_s``; a flap back inside that time is ``firing`` again
with no new notice. :mod:`tasks.alerts.instances` makes every move; the table is a
:class:`workers.states.TransitionTable`, drawn in ``docs/architecture.md`` (held equal by
``tests/unit/test_alert_states.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from workers.states import Actor, TableStates, Transition, TransitionTable


class AlertState(TableStates):
    """Where an instance is."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RECOVERING = "recovering"


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
class AlertTransition(Transition[AlertState, AlertEvent]):
    """A move of an instance (:class:`~workers.states.Transition`) that also sends ``notice``
    (or nothing)."""

    notice: Notice | None = None


_S, _E, _A, _N = AlertState, AlertEvent, Actor, Notice
#: Every move an instance may make. The evaluator (a worker) makes them from what a slot's
#: reading says; an operator's edit of a rule's source, condition or labels resets its
#: instances, and one that had fired is RESOLVED, so no FIRING is left without its end.
TRANSITIONS = TransitionTable(
    AlertState,
    (
        AlertTransition(None, _S.INACTIVE, _E.CREATE, _A.WORKER),
        AlertTransition(_S.INACTIVE, _S.PENDING, _E.PEND, _A.WORKER),
        AlertTransition(_S.INACTIVE, _S.FIRING, _E.FIRE, _A.WORKER, _N.FIRING),
        AlertTransition(_S.PENDING, _S.FIRING, _E.FIRE, _A.WORKER, _N.FIRING),
        AlertTransition(_S.PENDING, _S.INACTIVE, _E.CLEAR, _A.WORKER),
        AlertTransition(_S.FIRING, _S.RECOVERING, _E.RECOVER, _A.WORKER),
        AlertTransition(_S.RECOVERING, _S.FIRING, _E.REFIRE, _A.WORKER),
        AlertTransition(_S.FIRING, _S.INACTIVE, _E.RESOLVE, _A.WORKER, _N.RESOLVED),
        AlertTransition(_S.RECOVERING, _S.INACTIVE, _E.RESOLVE, _A.WORKER, _N.RESOLVED),
        AlertTransition(_S.PENDING, _S.INACTIVE, _E.RESET, _A.OPERATOR),
        AlertTransition(_S.FIRING, _S.INACTIVE, _E.RESET, _A.OPERATOR, _N.RESOLVED),
        AlertTransition(_S.RECOVERING, _S.INACTIVE, _E.RESET, _A.OPERATOR, _N.RESOLVED),
    ),
)
#: The states in which an instance counts as alerting (its FIRING sent, its RESOLVED not).
ALERTING = frozenset({AlertState.FIRING, AlertState.RECOVERING})


def transition(source: AlertState | None, target: AlertState, event: AlertEvent) -> AlertTransition:
    """The row of :data:`TRANSITIONS` for this move; ``ValueError`` when there is none."""
    return TRANSITIONS.row(source, target, event)
