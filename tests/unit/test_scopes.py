"""What an API key's scopes allow: pure rules, no store."""

from __future__ import annotations

import pytest

from workers.scopes import may_read, may_write, may_write_some, write_scope_for


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
def test_write_scopes_match_job_types(scopes: list[str], job_type: str, allowed: bool) -> None:
    assert may_write(scopes, job_type) is allowed


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["admin"], True),
        (["jobs:read"], True),
        (["jobs:write"], False),
        (["jobs:read:diag.*"], False),
        ([], False),
    ],
)
def test_reading_needs_jobs_read_or_admin(scopes: list[str], allowed: bool) -> None:
    assert may_read(scopes) is allowed


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["admin"], True),
        (["jobs:write"], True),
        (["jobs:write:diag.*"], True),
        (["jobs:read"], False),
        (["jobs:writer"], False),
        ([], False),
    ],
)
def test_some_write_scope_is_recognised(scopes: list[str], allowed: bool) -> None:
    assert may_write_some(scopes) is allowed


def test_the_narrowest_write_scope_names_the_type() -> None:
    assert write_scope_for("diag.noop") == "jobs:write:diag.noop"
    assert may_write([write_scope_for("diag.noop")], "diag.noop")
