"""``taskyard keys``: expiry, a rate limit of its own, rotation with a grace period, and the
list that shows both secrets of a rotated key with their last use."""

from __future__ import annotations

from datetime import timedelta

from tests.support.cli import one_line_failure, run
from workers.store import keys as key_store
from workers.store.types import utcnow


def test_create_takes_an_expiry_and_a_rate_limit(runtime: dict[str, str]) -> None:
    result = run("keys", "create", "--name", "expiring", "--scope", "jobs:read",
                 "--expires-in", "30d", "--rate-limit", "100/second")  # fmt: skip

    assert result.exit_code == 0, result.output
    (record,) = [k for k in key_store.list_keys() if k.name == "expiring"]
    assert record.expires_at is not None
    assert abs(record.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    assert record.rate_limit == "100/second"
    assert key_store.authenticate(result.stdout.splitlines()[-1]) is not None


def test_a_bad_expiry_or_rate_limit_is_a_usage_error(runtime: dict[str, str]) -> None:
    base = ("keys", "create", "--name", "never-made", "--scope", "jobs:read")
    assert "not a duration" in one_line_failure(run(*base, "--expires-in", "soon"), 2)
    assert "not a rate limit" in one_line_failure(run(*base, "--rate-limit", "fast"), 2)
    assert "never-made" not in {k.name for k in key_store.list_keys()}


def test_rotate_prints_a_new_secret_and_list_shows_both_with_their_last_use(
    runtime: dict[str, str],
) -> None:
    # Given a key in use
    issued = key_store.create_key("service-a", ["jobs:read"])
    assert key_store.authenticate(issued.secret, "10.0.0.7") is not None

    # When it is rotated with a grace period
    result = run("keys", "rotate", "service-a", "--grace", "2h")

    # Then a new secret is the last line of stdout, and both work
    assert result.exit_code == 0, result.output
    secret = result.stdout.splitlines()[-1]
    assert secret != issued.secret
    assert key_store.authenticate(secret, "10.0.0.8") is not None
    assert key_store.authenticate(issued.secret) is not None
    # And the list shows the new secret live and the old one in its grace, never a secret
    listed = run("keys", "list")
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.stdout.splitlines() if "service-a" in line]
    assert len(rows) == 2, listed.stdout
    assert "live" in rows[0]
    assert "10.0.0.8" in rows[0]
    assert "grace" in rows[1]
    assert issued.record.key_prefix in rows[1]
    assert secret not in listed.output
    assert issued.secret not in listed.output


def test_rotating_an_unknown_or_revoked_key_fails_in_one_line(runtime: dict[str, str]) -> None:
    key_store.create_key("gone", ["jobs:read"])
    key_store.revoke_key("gone")

    assert "no API key named" in one_line_failure(run("keys", "rotate", "nobody"), 1)
    assert "is revoked" in one_line_failure(run("keys", "rotate", "gone"), 1)
