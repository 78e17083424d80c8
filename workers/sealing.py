"""Sealing at rest, the one home of "encrypt with rotating keys": Fernet (AES-128-CBC with
HMAC-SHA256, from ``cryptography``) under ``TASKYARD_SECRET_KEYS``. The first key seals and
every key opens (``MultiFernet``), so a key rotates by putting a new one first, resealing what
is stored (:func:`reseal`), then dropping the old one. Channel secrets
(``tasks/notifications/sealing.py``) and sensitive job payloads (``workers/sensitive.py``) are
sealed here."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from workers.errors import SealingUnavailable
from workers.settings import get_settings, split_keys

KEYS_SETTING = "TASKYARD_SECRET_KEYS"


@lru_cache(maxsize=4)
def _keyring(text: str) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in split_keys(text)])


def keyring() -> MultiFernet | None:
    """The keys of the current settings, or ``None`` when none is set."""
    keys = get_settings().secret_keys
    return None if keys is None else _keyring(keys.get_secret_value())


def new_key() -> str:
    """A fresh Fernet key for ``TASKYARD_SECRET_KEYS``."""
    return Fernet.generate_key().decode("ascii")


def _required(what: str) -> MultiFernet:
    ring = keyring()
    if ring is None:
        raise SealingUnavailable(
            f"{what} must be sealed but {KEYS_SETTING} is not set; make a key with "
            f"`taskyard keys new-data-key` and set it in every API and worker process"
        )
    return ring


def seal(text: str, what: str) -> str:
    """``text`` sealed under the first key; :class:`SealingUnavailable` (naming ``what``) when
    no key is set."""
    return _required(what).encrypt(text.encode()).decode("ascii")


def unseal(token: str, what: str) -> str:
    """The text ``token`` seals; :class:`SealingUnavailable` when no configured key opens it."""
    try:
        return _required(what).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError):
        raise SealingUnavailable(
            f"no key in {KEYS_SETTING} opens {what}; keep the key it was sealed with in the "
            "list (after the new one) until the data keys are rotated"
        ) from None


def reseal(token: str, what: str) -> str:
    """``token`` sealed again under the first key (see :func:`unseal` for what can fail)."""
    try:
        return _required(what).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError):
        raise SealingUnavailable(
            f"no key in {KEYS_SETTING} opens {what}; put back the key it was sealed with "
            "(after the new one) and rotate again"
        ) from None
