"""Per-channel rate limits and per-endpoint circuit breakers (placeholder: both always let a
send through until the shared Redis implementation lands)."""

from __future__ import annotations

from typing import Any


def endpoint_for(config: Any) -> str:
    """The endpoint a channel sends to (its breaker's key)."""
    return "any"


def breaker_wait_s(endpoint: str) -> float | None:
    """Seconds until ``endpoint``'s breaker lets a send through, or ``None`` to go now."""
    return None


def rate_wait_s(name: str, limit: str) -> float | None:
    """Seconds until channel ``name`` has a permit under ``limit``, or ``None`` to go now."""
    return None


def record_result(endpoint: str, ok: bool) -> None:
    """Count a send's result against ``endpoint``'s breaker."""
    return None
