"""Channel secrets at rest: sealed with Fernet under ``TASKYARD_SECRET_KEYS`` (the first key
seals, every key opens, so a key rotates by putting a new one first and resealing), or kept as
plain JSON text when no key is set."""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tasks.notifications.errors import SecretsUnreadable
from workers.settings import get_settings, split_keys

KEYS_SETTING = "TASKYARD_SECRET_KEYS"
#: What the API logs (once per process) and the CLI notes when secrets are stored in clear.
UNSEALED_NOTE = (
    f"{KEYS_SETTING} is not set, so channel secrets are stored unencrypted; "
    "see docs/security.md to set a key"
)


@lru_cache(maxsize=4)
def _keyring(text: str) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in split_keys(text)])


def keyring() -> MultiFernet | None:
    """The keys of the current settings, or ``None`` when secrets are kept unsealed."""
    keys = get_settings().secret_keys
    return None if keys is None else _keyring(keys.get_secret_value())


def new_key() -> str:
    """A fresh Fernet key for ``TASKYARD_SECRET_KEYS``."""
    return Fernet.generate_key().decode("ascii")


def seal(secrets: dict[str, str]) -> tuple[str, bool]:
    """``secrets`` as stored text, and whether it is sealed (encrypted)."""
    text = json.dumps(secrets, sort_keys=True)
    ring = keyring()
    if ring is None:
        return text, False
    return ring.encrypt(text.encode()).decode("ascii"), True


def unseal(stored: str, sealed: bool) -> dict[str, str]:
    """The secrets ``stored`` holds; :class:`SecretsUnreadable` when no configured key opens
    them."""
    if not sealed:
        loaded: dict[str, str] = json.loads(stored)
        return loaded
    ring = keyring()
    if ring is None:
        raise SecretsUnreadable(
            f"channel secrets are encrypted but {KEYS_SETTING} is not set; set it to the keys "
            "they were sealed with"
        )
    try:
        opened: dict[str, str] = json.loads(ring.decrypt(stored.encode("ascii")))
    except InvalidToken:
        raise SecretsUnreadable(
            f"no key in {KEYS_SETTING} opens these channel secrets; keep the old key in the "
            "list (after the new one) until `taskyard channels rekey` has run"
        ) from None
    return opened


def reseal(stored: str, sealed: bool) -> str:
    """``stored`` sealed under the first key (a sealed value is rotated, a plain one sealed)."""
    ring = keyring()
    if ring is None:
        raise SecretsUnreadable(f"{KEYS_SETTING} is not set; there is no key to seal with")
    if not sealed:
        return ring.encrypt(stored.encode()).decode("ascii")
    try:
        return ring.rotate(stored.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise SecretsUnreadable(
            f"no key in {KEYS_SETTING} opens a channel's secrets; put back the key they were "
            "sealed with (after the new one) and run the rekey again"
        ) from None
