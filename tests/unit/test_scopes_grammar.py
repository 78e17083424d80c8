"""The scope grammar in ``workers.scopes``: which scopes exist, and what they allow (pure rules,
no store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from workers.scopes import (
    SCOPE_HELP,
    is_admin,
    may_notify,
    may_notify_some,
    may_post_alerts,
    may_read,
    may_read_deliveries,
    may_read_own,
    may_write,
    may_write_some,
    missing_for_job,
    notify_scope_for,
    reads_own_only,
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
        "alerts:write",
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
        "alerts",
        "alerts:read",
        "alerts:write:prometheus",
        "Alerts:write",
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


#: Sets of scopes, job types each may enqueue, and job types it may not.
WRITES: list[tuple[list[str], list[str], list[str]]] = [
    (["admin"], ["diag.noop"], []),
    (["jobs:write"], ["diag.noop", "mail.send"], []),
    (["jobs:write:diag.noop"], ["diag.noop"], ["diag.noop2"]),
    (["jobs:write:diag.*"], ["diag.sleep"], ["diagnostics.sleep"]),
    (["jobs:write:*.send"], ["mail.send"], []),
    (["jobs:write:*"], ["anything.at_all"], []),
    (["jobs:write:diag.s???p"], ["diag.sleep"], []),
    (["jobs:write:diag.[ns]*"], ["diag.noop"], ["diag.fail"]),
    (["jobs:write:Diag.*"], [], ["diag.noop"]),  # case-sensitive on every platform
    (["jobs:write:"], [], ["diag.noop"]),  # an empty pattern grants nothing
    (["jobs:write:mail.*", "jobs:write:diag.noop"], ["diag.noop"], []),
    (["jobs:read"], [], ["diag.noop"]),
    (["jobs:writer"], [], ["diag.noop"]),
    (["jobs:write.diag.noop"], [], ["diag.noop"]),
    (["admin:jobs"], [], ["diag.noop"]),
    ([], [], ["diag.noop"]),
]
#: Sets of scopes, channels each may send to, and channels it may not.
NOTIFIES: list[tuple[list[str], list[str], list[str]]] = [
    (["admin"], ["billing"], []),
    (["notifications:write"], ["billing"], []),
    (["notifications:write:ops-*"], ["ops-mail"], ["billing", "OPS-mail"]),  # case-sensitive
    (["notifications:write:billing"], ["billing"], ["billing-eu"]),
    (["notifications:write:[!b]*"], ["ops"], ["billing"]),
    (["notifications:write:"], [], ["billing"]),  # an empty pattern grants nothing
    (["notifications:write:ops-*", "notifications:write:billing"], ["billing"], []),
    (["notifications:read"], [], ["billing"]),
    (["jobs:write"], [], ["billing"]),  # jobs scopes never send notifications
    (["jobs:write:*"], [], ["billing"]),
    (["notifications:writer"], [], ["billing"]),
    ([], [], ["billing"]),
]


def _cases(allows: Callable[[list[str], str], bool], table: list[Any]) -> list[Any]:
    return [(allows, scopes, name, name in may) for scopes, may, may_not in table
            for name in (*may, *may_not)]  # fmt: skip


@pytest.mark.parametrize(
    ("allows", "scopes", "name", "allowed"),
    _cases(may_write, WRITES) + _cases(may_notify, NOTIFIES),
)
def test_a_scope_allows_the_job_types_and_channels_its_pattern_matches(
    allows: Callable[[list[str], str], bool], scopes: list[str], name: str, allowed: bool
) -> None:
    assert allows(scopes, name) is allowed


#: The scope sets the blanket checks are asked about.
SCOPE_SETS = [
    ["admin"],
    ["jobs:read"],
    ["jobs:write"],
    ["jobs:write:diag.*"],
    ["jobs:writer"],
    ["jobs:read:diag.*"],
    ["notifications:read"],
    ["notifications:write"],
    ["notifications:write:ops-*"],
    ["notifications:writer"],
    ["alerts:write"],
    ["jobs:read:own"],
    ["jobs:read:own", "jobs:write"],
    ["jobs:queue:bulk"],
    ["jobs:priority:3"],
    ["jobs:write", "jobs:read", "notifications:write"],
    [],
]
#: Each blanket check, and the scope sets above it allows: it allows none of the others.
ALLOWED_BY: dict[Callable[[list[str]], bool], list[list[str]]] = {
    may_read: [["admin"], ["jobs:read"], ["jobs:write", "jobs:read", "notifications:write"]],
    may_write_some: [
        ["admin"],
        ["jobs:write"],
        ["jobs:write:diag.*"],
        ["jobs:read:own", "jobs:write"],
        ["jobs:write", "jobs:read", "notifications:write"],
    ],
    is_admin: [["admin"]],
    may_read_deliveries: [["admin"], ["notifications:read"]],
    may_notify_some: [
        ["admin"],
        ["notifications:write"],
        ["notifications:write:ops-*"],
        ["jobs:write", "jobs:read", "notifications:write"],
    ],
    may_post_alerts: [["admin"], ["alerts:write"]],
    may_read_own: [
        ["admin"],
        ["jobs:read"],
        ["jobs:read:own"],
        ["jobs:read:own", "jobs:write"],
        ["jobs:write", "jobs:read", "notifications:write"],
    ],
    reads_own_only: [["jobs:read:own"], ["jobs:read:own", "jobs:write"]],
}


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=str)
@pytest.mark.parametrize("allows", list(ALLOWED_BY), ids=lambda check: check.__name__)
def test_what_each_scope_allows(allows: Callable[[list[str]], bool], scopes: list[str]) -> None:
    assert allows(scopes) is (scopes in ALLOWED_BY[allows])


@pytest.mark.parametrize(
    ("narrowest", "allows", "name", "scope", "other"),
    [
        (write_scope_for, may_write, "diag.noop", "jobs:write:diag.noop", "diag.sleep"),
        (notify_scope_for, may_notify, "ops-mail", "notifications:write:ops-mail", "ops-mail-2"),
    ],
)
def test_the_narrowest_scope_is_valid_and_allows_its_name_alone(
    narrowest: Callable[[str], str],
    allows: Callable[[list[str], str], bool],
    name: str,
    scope: str,
    other: str,
) -> None:
    assert narrowest(name) == scope
    assert validate_scope(scope) == scope
    assert allows([scope], name)
    assert not allows([scope], other)


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
