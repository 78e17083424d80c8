"""One run of a delivery's job (``notify.deliver``): claim the delivery, make its message,
send it once, record what happened. Every status it writes goes through
:mod:`tasks.notifications.deliveries`; what follows a send is
:func:`tasks.notifications.decision.decide`.

The delivery is claimed (``sending``) in the store before the send, so a second copy of the
job (a redelivered message, a duplicated publish, a job taken over from a worker presumed
dead) finds it taken and sends nothing. A run that finds it ``sending`` knows the run before
it was lost mid-send: see :func:`tasks.notifications.decision.decide_lost`.

Waiting never holds a worker: a retry raises :class:`workers.jobcontext.RetryAfter`, and a
rate limit or an open breaker :class:`workers.decision.LimitReached`, so the job waits in the
store (``retrying`` or ``scheduled``) and the dispatcher publishes it when due.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from tasks.notifications import deliveries, guards
from tasks.notifications.catalog import DeliverPayload
from tasks.notifications.channels import ChannelConfig
from tasks.notifications.compose import Unsendable, compose
from tasks.notifications.decision import UNSENDABLE, Decision, Policy, decide, decide_lost
from tasks.notifications.deliveries import DeliveryRecord, Loaded, SendClaim
from tasks.notifications.errors import SecretsUnreadable
from tasks.notifications.outcomes import ErrorClass, Outcome
from tasks.notifications.senders import send
from tasks.notifications.states import FINISHED, DeliveryStatus
from tasks.notifications.store import config_of
from workers.decision import LimitReached
from workers.jobcontext import JobContext, RetryAfter
from workers.observability import metrics
from workers.settings import get_settings
from workers.store.models import Channel, Notification
from workers.store.resilience import persistently

log = logging.getLogger(__name__)

_LEVELS = {DeliveryStatus.FAILED: logging.WARNING, DeliveryStatus.DEAD: logging.WARNING}


def policy() -> Policy:
    """The retry policy of deliveries, from the settings."""
    settings = get_settings()
    return Policy(settings.notify_max_attempts, settings.notify_backoff_base_s,
                  settings.notify_backoff_cap_s, settings.notify_retry_after_cap_s)  # fmt: skip


def deliver(payload: DeliverPayload, job: JobContext | None = None) -> dict[str, Any]:
    """Send the delivery ``payload`` names, at most once; the job's result says how it ended.
    With ``job`` (run as ``notify.deliver``), a run that ends the delivery records the job's
    success in the same round trip as the delivery's outcome."""
    # A read, so safe to try again while the store is away (as the job's own start is).
    loaded = persistently(deliveries.load, uuid.UUID(payload.delivery_id))
    if loaded is None:
        return {"delivery_id": payload.delivery_id, "skipped": "no such delivery"}
    delivery = loaded.delivery
    status = DeliveryStatus(delivery.status)
    if status in FINISHED:
        return _skipped(delivery, f"the delivery is {status}")
    channel = _channel(delivery, loaded.channel)
    token = uuid.uuid4().hex
    quiet = False  # whether the breaker, asked before the send, had nothing counted
    if status is DeliveryStatus.SENDING:
        claim = _after_loss(delivery, channel, token)
    else:
        if not isinstance(channel, str):
            quiet = _hold_back(delivery, channel)
        claim = deliveries.claim(delivery.id, token)
    if claim is None:
        return _skipped(delivery, "another run has claimed it")
    if isinstance(channel, str):
        return _end(delivery, claim, Decision(DeliveryStatus.FAILED, UNSENDABLE, channel), job)
    name, config = channel
    try:
        message = compose(delivery.message_key, _notifications(loaded), loaded.template)
    except Unsendable as error:
        unsendable = Decision(DeliveryStatus.FAILED, UNSENDABLE, error.reason)
        return _end(delivery, claim, unsendable, job)
    outcome = send(name, config, message)
    metrics.DELIVERY_SEND.labels(name).observe(outcome.duration_s)
    guards.record_result(guards.endpoint_for(config), ok=_breaker_ok(outcome), quiet=quiet)
    decision = decide(outcome, claim.attempt, policy(), _idempotent(config))
    result = _result(delivery, decision)
    ends = None if decision.status is DeliveryStatus.RETRYING else job
    if not deliveries.settle(claim, decision, outcome, ends, result):
        return _skipped(delivery, "its claim was taken over while it was sending")
    _log(delivery, decision, claim.attempt, status_code=outcome.status_code)
    if decision.status is DeliveryStatus.RETRYING:
        raise RetryAfter(decision.delay_s, f"delivery retrying: {decision.reason}")
    return result


def _breaker_ok(outcome: Outcome) -> bool:
    """Only what says the endpoint is unwell opens its breaker: a retryable failure. A
    permanent one (a 4xx, a refused recipient) is the message's, not the endpoint's."""
    return outcome.ok or outcome.error_class is not ErrorClass.RETRYABLE


def _channel(delivery: DeliveryRecord, row: Channel | None) -> tuple[str, ChannelConfig] | str:
    """The delivery's channel (name and settings, secrets opened), or why there is none."""
    if row is None:
        return f"channel {delivery.channel_name!r} no longer exists"
    try:
        return row.name, config_of(row)
    except SecretsUnreadable as error:
        return f"{error.message}; fix TASKYARD_SECRET_KEYS, then replay the delivery"


def _notifications(loaded: Loaded) -> list[Notification]:
    """What the claimed delivery sends: its notification as loaded, or a digest's members,
    read now that the claim has closed the digest to new ones."""
    if loaded.notification is not None:
        return [loaded.notification]
    return deliveries.members(loaded.delivery)


def _idempotent(config: ChannelConfig) -> bool:
    return config.idempotent


def _hold_back(delivery: DeliveryRecord, channel: tuple[str, ChannelConfig]) -> bool:
    """Defer the delivery while its channel's rate limit is spent or its endpoint's breaker is
    open: the job is given back to the store, holding no worker. Else returns whether the
    breaker was quiet (:class:`tasks.notifications.guards.BreakerAnswer`).

    The rate limit is asked first: a permit taken while the breaker then refuses is wasted,
    harmless while nothing is sent; asked the other way, a delivery chosen as the breaker's
    half-open trial could be deferred by the limit and hold the trial's lease unused."""
    name, config = channel
    wait_s: float | None = None
    if config.rate_limit is not None:
        wait_s = guards.rate_wait_s(name, config.rate_limit)
        reason = f"channel {name} is at its rate limit {config.rate_limit}"
    if wait_s is None:
        endpoint = guards.endpoint_for(config)
        answer = guards.ask_breaker(endpoint)
        if answer.wait_s is None:
            return answer.quiet
        wait_s = answer.wait_s
        reason = f"the circuit breaker of {endpoint} is open"
    if deliveries.defer(delivery.id, wait_s):
        metrics.DELIVERIES.labels(name, "deferred").inc()
    raise LimitReached(wait_s, reason)


def _after_loss(
    delivery: DeliveryRecord, channel: tuple[str, ChannelConfig] | str, token: str
) -> SendClaim | None:
    """The run before this one claimed the delivery and was lost mid-send: send again on an
    idempotent channel, else end it with the outcome unknown."""
    idempotent = not isinstance(channel, str) and _idempotent(channel[1])
    decision = decide_lost(delivery.attempts, policy(), idempotent)
    if decision.status is DeliveryStatus.SENDING:
        log.warning("delivery.resent", extra={"action": "delivery.resent",
                    "delivery_id": str(delivery.id), "channel": delivery.channel_name})  # fmt: skip
        return deliveries.resend(delivery, token)
    if deliveries.lose(delivery, decision):
        metrics.DELIVERIES.labels(delivery.channel_name, "lost").inc()
        _log(delivery, decision, delivery.attempts)
    return None


def _result(delivery: DeliveryRecord, decision: Decision) -> dict[str, Any]:
    return {"delivery_id": str(delivery.id), "status": decision.status.value}


def _end(
    delivery: DeliveryRecord, claim: SendClaim, decision: Decision, job: JobContext | None
) -> dict[str, Any]:
    result = _result(delivery, decision)
    if deliveries.settle(claim, decision, None, job, result):
        _log(delivery, decision, claim.attempt)
    return result


def _skipped(delivery: DeliveryRecord, reason: str) -> dict[str, Any]:
    log.info("delivery.skipped", extra={"action": "delivery.skipped",
             "delivery_id": str(delivery.id), "reason": reason})  # fmt: skip
    return {"delivery_id": str(delivery.id), "skipped": reason}


def _log(delivery: DeliveryRecord, decision: Decision, attempt: int, **fields: Any) -> None:
    """One line per send's end, and its count."""
    action = f"delivery.{decision.status.value}"
    extra = {"action": action, "delivery_id": str(delivery.id), "channel": delivery.channel_name,
             "attempt": attempt, "error_class": decision.error_class, "reason": decision.reason,
             **fields}  # fmt: skip
    if decision.status is DeliveryStatus.RETRYING:
        extra["delay_s"] = round(decision.delay_s, 3)
    log.log(_LEVELS.get(decision.status, logging.INFO), action, extra=extra)
    metrics.DELIVERIES.labels(delivery.channel_name, decision.status.value).inc()
