"""The scope grammar in ``workers.scopes``: which scopes exist, and what they allow (pure rules,
no store)."""

from __future__ import annotations

import pytest

from workers.scopes import (
    SCOPE_HELP,
    is_admin,
    may_notify,
    may_notify_some,
    may_read,
    may_read_deliveries,
    may_read_own,
    may_write,
    may_write_some,
    missing_for_job,
    notify_scope_for,
    validate_scope,
    write_scope_for,
)


@pytest.mark.parametrize(
    "scope",
    [
        "admin",
        "jobs:read",
        "jobs:write",
        "jobs:write:diag.noop",
        "jobs:write:diag.*",
        "jobs:write:*",
        "jobs:write:*.send",
        "jobs:write:diag.s???p",
        "jobs:write:diag.[ns]*",
        "jobs:write:diag.[!n]*",
        "jobs:write:mail-out.send_2",
        "jobs:write:" + "a" * 200,
        "notifications:read",
        "notifications:write",
        "notifications:write:ops-*",
        "notifications:write:billing",
        "notifications:write:Ops.Mail@eu:1",
        "notifications:write:[!b]*",
        "notifications:write:" + "a" * 200,
        "jobs:read:own",
        "jobs:queue:critical",
        "jobs:queue:bulk",
        "jobs:priority:0",
        "jobs:priority:9",
    ],
)
def test_valid_scopes_are_returned_unchanged(scope: str) -> None:
    assert validate_scope(scope) == scope


@pytest.mark.parametrize(
    "scope",
    [
        "",
        "Admin",
        "ADMIN",
        " admin",
        "admin ",
        "jobs",
        "jobs:",
        "jobs:write:",
        "jobs:write: x",
        "jobs:write:Diag.*",
        "jobs:write:diag.noop\n",
        "jobs:write:diag/noop",
        "jobs:read:diag.*",
        "jobs:writer",
        "jobs:write.diag.noop",
        "admin:jobs",
        "*",
        "jobs:write:" + "a" * 201,
        "notifications",
        "notifications:",
        "notifications:write:",
        "notifications:write: ops",
        "notifications:write:ops/mail",
        "notifications:write:ops\n",
        "notifications:read:ops-*",
        "notifications:writer",
        "Notifications:write",
        "notifications:write:" + "a" * 201,
        "jobs:read:mine",
        "jobs:queue:",
        "jobs:queue:urgent",
        "jobs:queue:*",
        "jobs:queue:Bulk",
        "jobs:priority:10",
        "jobs:priority:-1",
        "jobs:priority:",
        "jobs:priority:05",
    ],
)
def test_invalid_scopes_raise_a_value_error_naming_the_valid_ones(scope: str) -> None:
    with pytest.raises(ValueError, match="unknown scope") as raised:
        validate_scope(scope)

    assert repr(scope) in str(raised.value)
    assert SCOPE_HELP in str(raised.value)


@pytest.mark.parametrize(
    ("scopes", "job_type", "allowed"),
    [
        (["admin"], "diag.noop", True),
        (["jobs:write"], "diag.noop", True),
        (["jobs:write"], "mail.send", True),
        (["jobs:write:diag.noop"], "diag.noop", True),
        (["jobs:write:diag.noop"], "diag.noop2", False),
        (["jobs:write:diag.*"], "diag.sleep", True),
        (["jobs:write:diag.*"], "diagnostics.sleep", False),
        (["jobs:write:*.send"], "mail.send", True),
        (["jobs:write:*"], "anything.at_all", True),
        (["jobs:write:diag.s???p"], "diag.sleep", True),
        (["jobs:write:diag.[ns]*"], "diag.noop", True),
        (["jobs:write:diag.[ns]*"], "diag.fail", False),
        (["jobs:write:Diag.*"], "diag.noop", False),  # case-sensitive on every platform
        (["jobs:write:"], "diag.noop", False),  # an empty pattern grants nothing
        (["jobs:write:mail.*", "jobs:write:diag.noop"], "diag.noop", True),
        (["jobs:read"], "diag.noop", False),
        (["jobs:writer"], "diag.noop", False),
        (["jobs:write.diag.noop"], "diag.noop", False),
        (["admin:jobs"], "diag.noop", False),
        ([], "diag.noop", False),
    ],
)
def test_may_write_matches_job_types(scopes: list[str], job_type: str, allowed: bool) -> None:
    assert may_write(scopes, job_type) is allowed


@pytest.mark.parametrize(
    ("scopes", "read", "write_some", "admin"),
    [
        (["admin"], True, True, True),
        (["jobs:read"], True, False, False),
        (["jobs:write"], False, True, False),
        (["jobs:write:diag.*"], False, True, False),
        (["jobs:writer"], False, False, False),
        (["jobs:read:diag.*"], False, False, False),
        (["notifications:read"], False, False, False),
        (["notifications:write"], False, False, False),
        ([], False, False, False),
    ],
)
def test_what_each_scope_allows(
    scopes: list[str], read: bool, write_some: bool, admin: bool
) -> None:
    assert may_read(scopes) is read
    assert may_write_some(scopes) is write_some
    assert is_admin(scopes) is admin


@pytest.mark.parametrize(
    ("scopes", "channel", "allowed"),
    [
        (["admin"], "billing", True),
        (["notifications:write"], "billing", True),
        (["notifications:write:ops-*"], "ops-mail", True),
        (["notifications:write:ops-*"], "billing", False),
        (["notifications:write:ops-*"], "OPS-mail", False),  # case-sensitive
        (["notifications:write:billing"], "billing", True),
        (["notifications:write:billing"], "billing-eu", False),
        (["notifications:write:[!b]*"], "ops", True),
        (["notifications:write:[!b]*"], "billing", False),
        (["notifications:write:"], "billing", False),  # an empty pattern grants nothing
        (["notifications:write:ops-*", "notifications:write:billing"], "billing", True),
        (["notifications:read"], "billing", False),
        (["jobs:write"], "billing", False),  # jobs scopes never send notifications
        (["jobs:write:*"], "billing", False),
        (["notifications:writer"], "billing", False),
        ([], "billing", False),
    ],
)
def test_may_notify_matches_channel_names(scopes: list[str], channel: str, allowed: bool) -> None:
    assert may_notify(scopes, channel) is allowed


@pytest.mark.parametrize(
    ("scopes", "read", "notify_some"),
    [
        (["admin"], True, True),
        (["notifications:read"], True, False),
        (["notifications:write"], False, True),
        (["notifications:write:ops-*"], False, True),
        (["notifications:writer"], False, False),
        (["jobs:read"], False, False),
        (["jobs:write"], False, False),
        ([], False, False),
    ],
)
def test_what_each_notifications_scope_allows(
    scopes: list[str], read: bool, notify_some: bool
) -> None:
    assert may_read_deliveries(scopes) is read
    assert may_notify_some(scopes) is notify_some


def test_the_narrowest_write_scope_is_valid_and_allows_its_type() -> None:
    scope = write_scope_for("diag.noop")

    assert scope == "jobs:write:diag.noop"
    assert validate_scope(scope) == "jobs:write:diag.noop"
    assert may_write([scope], "diag.noop")
    assert not may_write([scope], "diag.sleep")


def test_the_narrowest_notify_scope_is_valid_and_allows_its_channel() -> None:
    scope = notify_scope_for("ops-mail")

    assert scope == "notifications:write:ops-mail"
    assert validate_scope(scope) == scope
    assert may_notify([scope], "ops-mail")
    assert not may_notify([scope], "ops-mail-2")


@pytest.mark.parametrize(
    ("scopes", "queue", "priority", "missing"),
    [
        (["jobs:write"], "critical", 9, None),  # no queue scope: every queue, any priority
        (["admin"], "critical", 9, None),
        (["jobs:write", "jobs:queue:bulk"], "bulk", 9, None),
        (["jobs:write", "jobs:queue:bulk"], "critical", 1, "jobs:queue:critical"),
        (["jobs:queue:bulk", "jobs:queue:high"], "high", None, None),
        (["admin", "jobs:queue:bulk"], "default", None, "jobs:queue:default"),  # admin too
        (["jobs:priority:3"], "default", 3, None),
        (["jobs:priority:3"], "default", 4, "jobs:priority:4"),
        (["jobs:priority:3"], "default", None, None),  # not asked: cancel
        (["jobs:priority:3", "jobs:priority:6"], "default", 6, None),  # the highest counts
        (["jobs:priority:0"], "default", 1, "jobs:priority:1"),
        (["jobs:queue:bulk", "jobs:priority:2"], "critical", 9, "jobs:queue:critical"),
    ],
)
def test_queue_and_priority_scopes_narrow_where_a_job_may_go(
    scopes: list[str], queue: str, priority: int | None, missing: str | None
) -> None:
    assert missing_for_job(scopes, queue, priority) == missing


@pytest.mark.parametrize(
    ("scopes", "reads"),
    [
        (["jobs:read:own"], True),
        (["jobs:read"], True),
        (["admin"], True),
        (["jobs:write"], False),
        (["jobs:read:diag.*"], False),
    ],
)
def test_own_reads_are_reads(scopes: list[str], reads: bool) -> None:
    assert may_read_own(scopes) is reads
