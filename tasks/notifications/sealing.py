"""Channel secrets at rest: sealed with the platform's keys (``workers/sealing.py``), or kept
as plain JSON text when no key is set."""

from __future__ import annotations

import json

from tasks.notifications.errors import SecretsUnreadable
from workers import sealing
from workers.errors import SealingUnavailable
from workers.sealing import KEYS_SETTING, keyring, new_key

__all__ = ["KEYS_SETTING", "UNSEALED_NOTE", "keyring", "new_key", "reseal", "seal", "unseal"]

#: What the API logs (once per process) and the CLI notes when secrets are stored in clear.
UNSEALED_NOTE = (
    f"{KEYS_SETTING} is not set, so channel secrets are stored unencrypted; "
    "see docs/security.md to set a key"
)
_WHAT = "channel secrets"


def seal(secrets: dict[str, str]) -> tuple[str, bool]:
    """``secrets`` as stored text, and whether it is sealed (encrypted)."""
    text = json.dumps(secrets, sort_keys=True)
    if keyring() is None:
        return text, False
    return sealing.seal(text, _WHAT), True


def unseal(stored: str, sealed: bool) -> dict[str, str]:
    """The secrets ``stored`` holds; :class:`SecretsUnreadable` when no configured key opens
    them."""
    try:
        opened: dict[str, str] = json.loads(sealing.unseal(stored, _WHAT) if sealed else stored)
    except SealingUnavailable as error:
        raise SecretsUnreadable(error.message) from None
    return opened


def reseal(stored: str, sealed: bool) -> str:
    """``stored`` sealed under the first key (a sealed value is rotated, a plain one sealed)."""
    try:
        return sealing.reseal(stored, _WHAT) if sealed else sealing.seal(stored, _WHAT)
    except SealingUnavailable as error:
        raise SecretsUnreadable(error.message) from None
