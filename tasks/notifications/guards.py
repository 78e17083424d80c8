"""What a delivery asks before it sends, in Redis so that every worker sees one state: its
channel's rate limit (:func:`rate_wait_s`) and its endpoint's circuit breaker
(:func:`ask_breaker`, then :func:`record_result` with the send's outcome).

A breaker is one hash per endpoint, ``taskyard:breaker:<endpoint>``, changed only by Lua
scripts that read Redis's clock, so workers on several hosts agree on when it half-opens:

- *closed* (no key, or a key counting failures in a row): sends go. ``TASKYARD_BREAKER_FAILURES``
  retryable failures in a row open it; a success forgets them.
- *open*: sends wait until ``TASKYARD_BREAKER_RESET_S`` has passed since it opened; then the
  first caller to ask half-opens it and is the one trial.
- *half-open*: only the trial sends; the others wait until it reports (or its lease of twice
  ``TASKYARD_NOTIFY_TIMEOUT_S`` runs out, when the next caller becomes the trial). A success
  closes the breaker, a failure opens it again.

Every key carries a TTL (failures are forgotten :data:`FORGET_S` after the last change), so a
breaker nobody uses goes away by itself; ``maintenance.redis_hygiene`` removes one left
without a TTL. Why not pybreaker's ``CircuitRedisStorage``: see docs/architecture.md.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast
from urllib.parse import urlsplit

from tasks.notifications.channels import ChannelConfig, ChannelKind, split
from workers.limits import KEY_PREFIX, parse_rate_limit, take_rate_permit
from workers.observability.metrics import BREAKER_TRANSITIONS
from workers.redis_client import shared_redis
from workers.settings import get_settings

log = logging.getLogger(__name__)

BREAKER_PREFIX = f"{KEY_PREFIX}:breaker:"
#: Seconds after its last change that a breaker's key (and the failures it counts) expires.
FORGET_S = 600
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_TLD = re.compile(r"[a-z]{2,63}")

# The shared prelude: Redis's clock in ms, and the breaker's state ('closed' when no key).
_NOW_AND_STATE = """
local t = redis.call('TIME')
local now_ms = t[1] * 1000 + math.floor(t[2] / 1000)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
"""
# ARGV: reset ms, trial lease ms, ttl ms. Returns {ms to wait (-1: go), 1 if it half-opened,
# 1 if it was closed with nothing counted (no key)}.
_ASK = (
    _NOW_AND_STATE
    + """
if state == 'open' then
  local due = tonumber(redis.call('HGET', KEYS[1], 'opened_ms')) + tonumber(ARGV[1])
  if now_ms < due then return {due - now_ms, 0, 0} end
  redis.call('HSET', KEYS[1], 'state', 'half-open',
             'trial_until_ms', string.format('%d', now_ms + tonumber(ARGV[2])))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {-1, 1, 0}
elseif state == 'half-open' then
  local lease = tonumber(redis.call('HGET', KEYS[1], 'trial_until_ms'))
  if now_ms < lease then return {lease - now_ms, 0, 0} end
  redis.call('HSET', KEYS[1], 'trial_until_ms', string.format('%d', now_ms + tonumber(ARGV[2])))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {-1, 0, 0}
end
return {-1, 0, 1 - redis.call('EXISTS', KEYS[1])}
"""
)
# ARGV: ok (1/0), failures to open, ttl ms. Returns {state after, the state before, failures}.
_RECORD = (
    _NOW_AND_STATE
    + """
if state == 'open' then return {state, state, 0} end
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[1])
  return {'closed', state, 0}
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if state == 'half-open' or failures >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_ms', string.format('%d', now_ms))
  redis.call('HDEL', KEYS[1], 'trial_until_ms')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'open', state, failures}
end
redis.call('HSET', KEYS[1], 'state', 'closed')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'closed', state, failures}
"""
)
# Returns {state, failures, ms until an open breaker half-opens or a trial's lease ends}.
_STATUS = (
    _NOW_AND_STATE
    + """
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local due = 0
if state == 'open' then
  due = tonumber(redis.call('HGET', KEYS[1], 'opened_ms')) + tonumber(ARGV[1])
elseif state == 'half-open' then
  due = tonumber(redis.call('HGET', KEYS[1], 'trial_until_ms'))
end
return {state, failures, math.max(0, due - now_ms)}
"""
)


class BreakerState(StrEnum):
    """Where an endpoint's breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class BreakerAnswer:
    """What a send is told before it goes: ``wait_s`` ``None`` to send now (the breaker is
    closed, or half-open with this caller as its trial), else the seconds to wait; ``quiet``
    when it was closed with nothing counted, so a success has nothing to forget."""

    wait_s: float | None
    quiet: bool = False


@dataclass(frozen=True)
class BreakerStatus:
    """A breaker as an operator sees it: its state, the failures in a row it counts, and the
    seconds until it half-opens (open) or its trial's lease ends (half-open)."""

    endpoint: str
    state: BreakerState
    failures: int
    wait_s: float


def rate_wait_s(channel_name: str, rate_limit: str) -> float | None:
    """Take one permit of channel ``channel_name``'s ``rate_limit`` (shared by every worker);
    ``None``: send now, else the seconds until a permit frees."""
    item = parse_rate_limit(rate_limit)
    return take_rate_permit(get_settings().locks_url, "channel", channel_name, item)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_host_name(host: str) -> bool:
    # A DNS name (labels and a letters-only top level) or an IP literal: never a token that an
    # Apprise URL keeps where a host would be (tgram://<bot token>/..., pover://<user key>).
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        if host == "localhost":
            return True
        return (len(host) <= 253 and len(labels) > 1 and _TLD.fullmatch(labels[-1]) is not None
                and all(_LABEL.fullmatch(label) for label in labels))  # fmt: skip
    return True


def endpoint_of(kind: str, public_settings: dict[str, Any], secrets: dict[str, str]) -> str:
    """The endpoint a channel sends to, as a breaker's name: email ``host:port``, webhook
    ``scheme://host:port``, Slack the URL's host, Apprise its scheme (and its host when that is
    a host name). Never a path, token or credential: it is shown in metrics and logs."""
    if kind == ChannelKind.EMAIL:
        return f"{_host(str(public_settings['host']).lower())}:{public_settings['port']}"
    url = public_settings["url"] if kind == ChannelKind.WEBHOOK else secrets["url"]
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if kind == ChannelKind.WEBHOOK:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        return f"{parts.scheme}://{_host(host)}:{port}"
    if kind == ChannelKind.SLACK:
        return _host(host)
    scheme = parts.scheme.lower()
    return f"{scheme}://{_host(host)}" if _is_host_name(host) else f"{scheme}://"


def endpoint_for(config: ChannelConfig) -> str:
    """The endpoint of a channel's settings (secrets opened): :func:`endpoint_of` them."""
    public, secrets = split(config)
    return endpoint_of(config.kind, public, secrets)


def breaker_key(endpoint: str) -> str:
    """The Redis key of ``endpoint``'s breaker."""
    return f"{BREAKER_PREFIX}{endpoint}"


def _eval(script: str, endpoint: str, *args: int | str) -> list[Any]:
    """Run ``script`` on ``endpoint``'s breaker; its answer with strings decoded."""
    client = shared_redis(get_settings().locks_url)
    answer = cast(list[Any], client.eval(script, 1, breaker_key(endpoint), *args))
    return [v.decode() if isinstance(v, bytes) else v for v in answer]


def _trial_lease_ms() -> int:
    return int(2 * get_settings().notify_timeout_s * 1000)


def _ttl_ms(extra_s: float = 0.0) -> int:
    return int((FORGET_S + extra_s) * 1000)


def _changed(endpoint: str, state: BreakerState, why: str) -> None:
    BREAKER_TRANSITIONS.labels(endpoint, state.value).inc()
    extra = {"action": f"breaker.{state.value.replace('-', '_')}", "endpoint": endpoint}
    level = logging.WARNING if state is BreakerState.OPEN else logging.INFO
    log.log(level, "circuit breaker for %s %s: %s", endpoint, state.value, why, extra=extra)


def ask_breaker(endpoint: str) -> BreakerAnswer:
    """Whether a send to ``endpoint`` may go now: see :class:`BreakerAnswer`. Asking an open
    breaker whose reset time has passed half-opens it, with this caller as its trial."""
    reset_ms = int(get_settings().breaker_reset_s * 1000)
    lease_ms = _trial_lease_ms()
    wait_ms, half_opened, quiet = _eval(
        _ASK, endpoint, reset_ms, lease_ms, _ttl_ms(lease_ms / 1000)
    )
    if half_opened:
        _changed(endpoint, BreakerState.HALF_OPEN, "one trial send goes")
    if int(wait_ms) >= 0:
        return BreakerAnswer(int(wait_ms) / 1000)
    return BreakerAnswer(None, quiet=bool(quiet))


def record_result(endpoint: str, ok: bool, quiet: bool = False) -> None:
    """Count a send's outcome: ``ok=False`` for a retryable failure (timeout, connection
    error, 5xx, 429), which may open the breaker; ``ok=True`` for any other answer (a 4xx too:
    the endpoint is up), which forgets the failures and closes a half-open breaker.

    A success whose ask found the breaker ``quiet`` (:class:`BreakerAnswer`) is not sent to
    Redis: there was nothing to forget. Failures other sends counted while it was in flight
    then stay counted: they overlapped it, so it did not come after them."""
    if ok and quiet:
        return
    settings = get_settings()
    after, before, failures = _eval(
        _RECORD, endpoint, int(ok), settings.breaker_failures, _ttl_ms(settings.breaker_reset_s)
    )
    if after == before:
        return
    if before == BreakerState.HALF_OPEN and after == BreakerState.OPEN:
        why = f"the trial send failed; sends wait {settings.breaker_reset_s:g} s"
    elif after == BreakerState.OPEN:
        why = f"{failures} failures in a row; sends wait {settings.breaker_reset_s:g} s"
    else:
        why = "the trial send went through"
    _changed(endpoint, BreakerState(after), why)


def breaker_status(endpoint: str) -> BreakerStatus:
    """``endpoint``'s breaker as it stands (reads only)."""
    reset_ms = int(get_settings().breaker_reset_s * 1000)
    state, failures, wait_ms = _eval(_STATUS, endpoint, reset_ms)
    return BreakerStatus(endpoint, BreakerState(state), int(failures), int(wait_ms) / 1000)


def reset_breaker(endpoint: str) -> bool:
    """Close ``endpoint``'s breaker and forget its failures; ``False`` when it was closed with
    none counted."""
    removed = shared_redis(get_settings().locks_url).delete(breaker_key(endpoint))
    if removed:
        _changed(endpoint, BreakerState.CLOSED, "reset by an operator")
    return bool(removed)
