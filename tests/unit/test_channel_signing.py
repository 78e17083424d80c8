"""Webhook signatures: a receiver accepts the sender's, and refuses replays and forgeries."""

from __future__ import annotations

import pytest

from tasks.notifications.signing import InvalidSignature, sign, verify_signature

SECRET = "whsec-0123456789abcdef"
BODY = b'{"id":"k1","subject":"hi"}'
NOW = 1_800_000_000
IDS = ["old", "future", "other-secret", "changed-body", "changed-time", "no-time", "no-sig",
       "empty", "missing"]  # fmt: skip


def test_a_fresh_signature_verifies_and_returns_its_timestamp() -> None:
    header = sign(SECRET, BODY, NOW)

    assert header.startswith(f"t={NOW},v1=")
    assert verify_signature(SECRET, header, BODY, 300, now=NOW + 299) == NOW


@pytest.mark.parametrize(
    ("header", "body", "now", "reason"),
    [
        (sign(SECRET, BODY, NOW), BODY, NOW + 301, "replay"),
        (sign(SECRET, BODY, NOW), BODY, NOW - 301, "replay"),
        (sign("another-secret-0000", BODY, NOW), BODY, NOW, "no signature matches"),
        (sign(SECRET, BODY, NOW), BODY + b" ", NOW, "no signature matches"),
        (sign(SECRET, BODY, NOW).replace(f"t={NOW}", f"t={NOW + 1}"), BODY, NOW, "no signature"),
        ("v1=abc", BODY, NOW, "malformed"),
        (f"t={NOW}", BODY, NOW, "malformed"),
        ("", BODY, NOW, "no Taskyard-Signature"),
        (None, BODY, NOW, "no Taskyard-Signature"),
    ],
    ids=IDS,
)
def test_replays_forgeries_and_malformed_headers_are_refused(
    header: str | None, body: bytes, now: int, reason: str
) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        verify_signature(SECRET, header, body, 300, now=now)


def test_any_v1_may_match_so_a_secret_can_rotate() -> None:
    old = sign("old-secret-000000", BODY, NOW).split(",")[1]
    header = f"{sign(SECRET, BODY, NOW)},{old}"

    assert verify_signature("old-secret-000000", header, BODY, now=NOW) == NOW
    assert verify_signature(SECRET, header, BODY, now=NOW) == NOW
