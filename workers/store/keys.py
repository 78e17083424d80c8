"""API keys: created once (only the hash is kept), looked up by hash, revoked by name."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from workers.errors import ApiKeyError
from workers.store import audit
from workers.store.engine import session_scope
from workers.store.models import ApiKey
from workers.store.types import utcnow

KEY_PREFIX = "tyk_"
#: ``last_used_at`` is refreshed at most this often, so auth costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: How long a process trusts a key it found live before asking the store again.
CACHE_TTL_S = 5.0
_live: dict[str, tuple[float, ApiKey]] = {}


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``secret`` is shown once and never stored."""

    record: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    """SHA-256 hex digest of a key (keys are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(name: str, scopes: list[str]) -> IssuedKey:
    """Create a key named ``name`` with ``scopes``; raises if the name is taken."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        name=name, key_hash=hash_key(secret), key_prefix=secret[:10], scopes=sorted(set(scopes))
    )
    try:
        with session_scope() as session:
            session.add(record)
            session.flush()
            audit.record(session, "key.created", key_target(record), after=audit.summary(record))
    except IntegrityError:
        raise ApiKeyError(f"an API key named {name!r} already exists") from None
    return IssuedKey(record=record, secret=secret)


def key_target(record: ApiKey) -> audit.Target:
    """A key as the target of an audit row (its name; never its secret or hash)."""
    return audit.Target("key", record.id, record.name)


def list_keys() -> list[ApiKey]:
    """Every key, oldest first."""
    with session_scope() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(name: str) -> ApiKey:
    """Revoke the key named ``name`` (idempotent)."""
    with session_scope() as session:
        record = session.scalar(select(ApiKey).where(ApiKey.name == name))
        if record is None:
            raise ApiKeyError(f"no API key named {name!r}")
        if record.revoked_at is None:
            before = audit.summary(record)
            record.revoked_at = utcnow()
            audit.record(session, "key.revoked", key_target(record), before, audit.summary(record))
    _live.pop(record.key_hash, None)
    return record


def remembered(secret: str) -> ApiKey | None:
    """The live key for ``secret`` if this process checked it within ``CACHE_TTL_S``: no I/O,
    so an event loop may call it (and fall back to :func:`authenticate` on ``None``)."""
    cached = _live.get(hash_key(secret))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return None


def authenticate(secret: str) -> ApiKey | None:
    """The live key for ``secret``, or ``None``; refreshes ``last_used_at`` coarsely.

    A key found live is remembered for ``CACHE_TTL_S`` in this process, so authentication
    costs no query per request; a key revoked elsewhere is refused within that time (at
    once in the process that revoked it). Unknown keys are never remembered."""
    known = remembered(secret)
    if known is not None:
        return known
    digest = hash_key(secret)
    now = utcnow()
    with session_scope() as session:
        record = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        if record is None or record.revoked_at is not None:
            _live.pop(digest, None)
            return None
        if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
            session.execute(update(ApiKey).where(ApiKey.id == record.id).values(last_used_at=now))
    _live[digest] = (time.monotonic() + CACHE_TTL_S, record)
    return record
