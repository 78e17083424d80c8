"""API keys: created once (only the hash is kept), looked up by hash, rotated with a grace
period, expired, revoked by name.

A rotation keeps the key record (its name, scopes, limits and the jobs it enqueued) and gives
it a new secret; the secret it replaces stays valid until the grace period ends, so callers
can switch over without a gap.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workers.errors import ApiKeyError
from workers.store.engine import session_scope
from workers.store.models import ApiKey
from workers.store.types import utcnow

KEY_PREFIX = "tyk_"
#: ``last_used_at`` is refreshed at most this often, so auth costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: How long a process trusts a key it found live before asking the store again: a key revoked
#: or rotated out in any process is refused by every process within this time.
CACHE_TTL_S = 1.0
#: The longest client address kept (an IPv6 address with a zone fits).
MAX_CLIENT = 64
_live: dict[str, tuple[float, ApiKey]] = {}


@dataclass(frozen=True)
class IssuedKey:
    """A key just created or rotated: ``secret`` is shown once and never stored."""

    record: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    """SHA-256 hex digest of a key (keys are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> tuple[str, str, str]:
    """A fresh secret, its hash and its display prefix."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_key(secret), secret[:10]


def create_key(
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    rate_limit: str | None = None,
) -> IssuedKey:
    """Create a key named ``name`` with ``scopes``; raises if the name is taken."""
    secret, digest, prefix = _new_secret()
    record = ApiKey(name=name, key_hash=digest, key_prefix=prefix, scopes=sorted(set(scopes)),
                    expires_at=expires_at, rate_limit=rate_limit)  # fmt: skip
    try:
        with session_scope() as session:
            session.add(record)
    except IntegrityError:
        raise ApiKeyError(f"an API key named {name!r} already exists") from None
    return IssuedKey(record=record, secret=secret)


def list_keys() -> list[ApiKey]:
    """Every key, oldest first."""
    with session_scope() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def _by_name(session: Session, name: str) -> ApiKey:
    """The key named ``name``, locked for a change, or :class:`ApiKeyError`."""
    record = session.scalar(select(ApiKey).where(ApiKey.name == name).with_for_update())
    if record is None:
        raise ApiKeyError(f"no API key named {name!r}")
    return record


def revoke_key(name: str) -> ApiKey:
    """Revoke the key named ``name``, every secret of it (idempotent)."""
    with session_scope() as session:
        record = _by_name(session, name)
        if record.revoked_at is None:
            record.revoked_at = utcnow()
    _live.clear()
    return record


def rotate_key(name: str, grace: timedelta) -> IssuedKey:
    """Give the key named ``name`` a new secret; the current one stays valid for ``grace``
    (a secret rotated out before replaces the one it kept). A revoked key is not rotated."""
    secret, digest, prefix = _new_secret()
    now = utcnow()
    with session_scope() as session:
        record = _by_name(session, name)
        if record.revoked_at is not None:
            raise ApiKeyError(f"the API key {name!r} is revoked; create a new one")
        record.previous_key_hash, record.previous_key_prefix = record.key_hash, record.key_prefix
        record.previous_expires_at = now + grace
        record.previous_last_used_at, record.last_used_at = record.last_used_at, None
        record.key_hash, record.key_prefix = digest, prefix
    _live.clear()
    return IssuedKey(record=record, secret=secret)


def remembered(secret: str) -> ApiKey | None:
    """The live key for ``secret`` if this process checked it within ``CACHE_TTL_S``: no I/O,
    so an event loop may call it (and fall back to :func:`authenticate` on ``None``)."""
    cached = _live.get(hash_key(secret))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return None


def _valid_until(record: ApiKey, digest: str) -> datetime | None:
    """When the secret with ``digest`` stops working (``None``: not before it is revoked)."""
    ends = [record.expires_at]
    if digest != record.key_hash:
        ends.append(record.previous_expires_at)
    return min((end for end in ends if end is not None), default=None)


def authenticate(secret: str, client: str | None = None) -> ApiKey | None:
    """The live key for ``secret`` (current, or the one its last rotation replaced while the
    grace lasts), or ``None`` when unknown, revoked or expired. Refreshes the secret's last
    use and the key's last client address coarsely.

    A key found live is remembered for ``CACHE_TTL_S`` (never past its expiry) in this
    process, so authentication costs at most one query per key and second; unknown keys are
    never remembered."""
    known = remembered(secret)
    if known is not None:
        return known
    digest = hash_key(secret)
    now = utcnow()
    with session_scope() as session:
        query = select(ApiKey).where(
            or_(ApiKey.key_hash == digest, ApiKey.previous_key_hash == digest)
        )
        record = session.scalar(query)
        until = None if record is None else _valid_until(record, digest)
        if record is None or record.revoked_at is not None or (until is not None and until <= now):
            _live.pop(digest, None)
            return None
        current = digest == record.key_hash
        last = record.last_used_at if current else record.previous_last_used_at
        moved = client is not None and record.last_client != client[:MAX_CLIENT]
        if last is None or now - last > LAST_USED_RESOLUTION or moved:
            values: dict[str, object] = {
                "last_used_at" if current else "previous_last_used_at": now
            }
            if client is not None:
                values["last_client"] = client[:MAX_CLIENT]
            session.execute(update(ApiKey).where(ApiKey.id == record.id).values(**values))
    ttl = CACHE_TTL_S if until is None else min(CACHE_TTL_S, (until - now).total_seconds())
    _live[digest] = (time.monotonic() + ttl, record)
    return record
