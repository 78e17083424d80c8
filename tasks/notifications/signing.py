"""Webhook signatures: ``Taskyard-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
HMAC-SHA256 under the channel's secret over ``<t>.`` followed by the raw body.

A receiver recomputes the HMAC over the body exactly as received, compares in constant time,
and refuses a timestamp further than its tolerance from its own clock, so a captured request
cannot be replayed later. :func:`verify_signature` does all three; it imports nothing of
Taskyard but the standard library, so a receiver may copy or import it."""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Taskyard-Signature"
SCHEME = "v1"
#: How far a signature's timestamp may be from the receiver's clock (either way), by default.
DEFAULT_TOLERANCE_S = 300


class InvalidSignature(ValueError):
    """The signature header is missing, malformed, too old or does not match the body."""


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Taskyard-Signature`` value for ``body`` sent at ``timestamp`` (now by default)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},{SCHEME}={_digest(secret, moment, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    stamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isdigit():
            stamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if stamp is None or not signatures:
        raise InvalidSignature(f"malformed {HEADER} header; expected t=<unix>,{SCHEME}=<hex>")
    return stamp, signatures


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check ``header`` against ``body``; returns the signed timestamp, or raises
    :class:`InvalidSignature` saying why (missing, malformed, outside the tolerance: a
    replay, or no ``v1`` matching: a forgery or another secret). Any ``v1`` may match, so a
    sender may sign with two secrets while they rotate."""
    if not header:
        raise InvalidSignature(f"no {HEADER} header")
    stamp, signatures = _parse(header)
    clock = time.time() if now is None else now
    if abs(clock - stamp) > tolerance_s:
        raise InvalidSignature(
            f"timestamp {stamp} is more than {tolerance_s:g} s from now: a replay, or a clock off"
        )
    expected = _digest(secret, stamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidSignature("no signature matches the body under this secret")
    return stamp
