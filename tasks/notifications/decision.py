"""What follows one send: a pure function of its outcome, the attempt and the channel
(``decide``), and of a send found lost (``decide_lost``), tested as a table in
``tests/unit/test_delivery_decision.py``. The writes that apply a decision are in
:mod:`tasks.notifications.deliveries`."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tasks.notifications.outcomes import ErrorClass, Outcome
from tasks.notifications.states import DeliveryStatus
from workers.jobtypes import RetryPolicy

#: The ``error_class`` of a delivery whose send may or may not have reached the provider.
OUTCOME_UNKNOWN = "outcome_unknown"
#: The ``error_class`` of a delivery whose message could not be made (a render error, a
#: template or channel removed since): nothing was sent.
UNSENDABLE = "unsendable"
#: The ``error_class`` of a delivery whose job ended before it was sent (see ``reap_orphans``).
ORPHANED = "orphaned"
#: The ``error_class`` of a delivery an operator cancelled.
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Policy:
    """How often and how patiently a delivery is tried (from the settings)."""

    max_attempts: int = 6
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 600.0
    retry_after_cap_s: float = 3_600.0

    def backoff_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Capped exponential back-off with full jitter after send number ``attempt``: the
        job's own (:class:`workers.jobtypes.RetryPolicy`)."""
        policy = RetryPolicy((), self.max_attempts - 1, self.backoff_base_s, self.backoff_cap_s)
        return policy.delay_for(attempt - 1, rng)


@dataclass(frozen=True)
class Decision:
    """Where the delivery goes after a send: ``retrying`` after ``delay_s``, or final.
    ``error_class`` is ``retryable``, ``permanent``, ``outcome_unknown`` or ``None`` (sent)."""

    status: DeliveryStatus
    error_class: str | None
    reason: str | None
    delay_s: float = 0.0


def decide(
    outcome: Outcome,
    attempt: int,
    policy: Policy,
    idempotent: bool,
    rng: random.Random | None = None,
) -> Decision:
    """Sent, retried (honouring ``Retry-After`` up to the policy's cap, never sooner than the
    back-off), failed at once, or dead after send number ``attempt``.

    A retryable failure that may have reached the provider (an answer lost after the request
    went out) is tried again only on an idempotent channel: elsewhere a retry could deliver
    twice, so the delivery fails with its outcome unknown."""
    if outcome.ok:
        return Decision(DeliveryStatus.SENT, None, None)
    reason = outcome.error or "the send failed"
    if outcome.error_class is ErrorClass.PERMANENT:
        return Decision(DeliveryStatus.FAILED, ErrorClass.PERMANENT.value, reason)
    if outcome.maybe_delivered and not idempotent:
        unknown = f"{reason}; it may have been delivered, so it is not sent again"
        return Decision(DeliveryStatus.FAILED, OUTCOME_UNKNOWN, unknown)
    if attempt >= policy.max_attempts:
        return Decision(DeliveryStatus.DEAD, ErrorClass.RETRYABLE.value, reason)
    delay_s = policy.backoff_s(attempt, rng)
    if outcome.retry_after_s is not None:
        delay_s = max(delay_s, min(outcome.retry_after_s, policy.retry_after_cap_s))
    return Decision(DeliveryStatus.RETRYING, ErrorClass.RETRYABLE.value, reason, delay_s)


def decide_lost(attempt: int, policy: Policy, idempotent: bool) -> Decision:
    """The delivery was found ``sending`` by a later run of its job: the run that claimed it
    (attempt number ``attempt``) was lost mid-send, so whether the provider got it is unknown.

    An idempotent channel gets the send again at once (``sending``, a resend) while attempts
    remain; any other ends ``failed`` with the outcome unknown, never sent twice."""
    lost = "its worker was lost while sending"
    if not idempotent:
        unknown = f"{lost}; it may have been delivered, so it is not sent again"
        return Decision(DeliveryStatus.FAILED, OUTCOME_UNKNOWN, unknown)
    if attempt >= policy.max_attempts:
        return Decision(DeliveryStatus.DEAD, OUTCOME_UNKNOWN, lost)
    return Decision(DeliveryStatus.SENDING, OUTCOME_UNKNOWN, lost)
