"""The life of a delivery: its statuses, and every move between them with who makes it.

A delivery speaks the job's vocabulary. ``queued`` and ``scheduled`` wait for their job (the
carrier, ``notify.deliver``) to start; ``sending`` is the claim taken in the store before a
send, so a second copy of the job finds it taken; the rest say how the send ended.
:mod:`tasks.notifications.deliveries` makes every move, each guard read from :data:`TRANSITIONS`
(a :class:`workers.states.TransitionTable`, which ``tests/unit/test_delivery_states.py`` holds
equal to the diagram in ``docs/architecture.md``).
"""

from __future__ import annotations

from enum import StrEnum

from workers.states import Actor, TableStates, Transition, TransitionTable


class DeliveryStatus(TableStates):
    """Where a delivery is in its life."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"


class DeliveryEvent(StrEnum):
    """What moves a delivery."""

    CREATE = "create"
    CLAIM = "claim"
    RESEND = "resend"
    DEFER = "defer"
    SUCCEED = "succeed"
    RETRY = "retry"
    FAIL = "fail"
    EXHAUST = "exhaust"
    LOSE = "lose"
    CANCEL = "cancel"
    REAP = "reap"


_S, _E, _A = DeliveryStatus, DeliveryEvent, Actor
_WAITING = (_S.QUEUED, _S.SCHEDULED, _S.RETRYING)
#: Every move a delivery may make, and who makes it. ``resend`` is the one way a send is made
#: again without a decision: the last attempt was lost mid-send and the channel declared
#: itself idempotent; ``lose`` is the same finding on a channel that did not (the outcome is
#: unknown, so it is not sent again); ``reap`` ends a delivery whose job ended without it.
TRANSITIONS = TransitionTable(
    DeliveryStatus,
    (
        Transition(None, _S.QUEUED, _E.CREATE, _A.PRODUCER),
        Transition(None, _S.SCHEDULED, _E.CREATE, _A.PRODUCER),
        Transition(None, _S.QUEUED, _E.CREATE, _A.OPERATOR),
        *(Transition(source, _S.SENDING, _E.CLAIM, _A.WORKER) for source in _WAITING),
        Transition(_S.SENDING, _S.SENDING, _E.RESEND, _A.WORKER),
        *(Transition(source, _S.SCHEDULED, _E.DEFER, _A.WORKER) for source in _WAITING),
        Transition(_S.SENDING, _S.SENT, _E.SUCCEED, _A.WORKER),
        Transition(_S.SENDING, _S.RETRYING, _E.RETRY, _A.WORKER),
        Transition(_S.SENDING, _S.FAILED, _E.FAIL, _A.WORKER),
        Transition(_S.SENDING, _S.DEAD, _E.EXHAUST, _A.WORKER),
        Transition(_S.SENDING, _S.FAILED, _E.LOSE, _A.WORKER),
        *(Transition(source, _S.CANCELLED, _E.CANCEL, _A.OPERATOR) for source in _WAITING),
        *(Transition(source, _S.FAILED, _E.REAP, _A.REAPER) for source in (*_WAITING, _S.SENDING)),
    ),
)
#: Final: no transition leaves them.
FINISHED = TRANSITIONS.finished
#: What an operator may replay as a new delivery: finished, but not sent.
REPLAYABLE = FINISHED - {DeliveryStatus.SENT}
