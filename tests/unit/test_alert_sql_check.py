"""The SQL source's check at save, as a table: one query that reads, in either store's
dialect, binding nothing but ``:slot_at``; anything else names ``spec.query``."""

from __future__ import annotations

import pytest

from tasks.alerts import sql
from tasks.alerts.errors import InvalidAlertRule

READS = [
    "SELECT 1 AS value",
    "SELECT queue, count(*) AS value FROM jobs WHERE created_at <= :slot_at GROUP BY queue",
    "WITH q AS (SELECT type FROM jobs) SELECT type, count(*) AS value FROM q GROUP BY type",
    "SELECT 1 AS value UNION ALL SELECT 2",
    "SELECT 1 AS value;",
]
REFUSED = [
    ("", "give one SELECT statement"),
    ("DELETE FROM jobs", "must be a SELECT, not DELETE"),
    ("UPDATE jobs SET status = 'dead'", "must be a SELECT, not UPDATE"),
    ("DROP TABLE jobs", "must be a SELECT, not DROP"),
    ("SELECT 1 AS value; DELETE FROM jobs", "must be exactly one statement"),
    ("WITH gone AS (DELETE FROM jobs RETURNING id) SELECT count(*) AS value FROM gone",
     "must only read"),
    ("SELECT * INTO copy FROM jobs", "must only read"),
    ("SELECT :other AS value", "binds :other"),
    ("SELEC 1", "does not parse"),
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def dialect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    name: str = request.param
    monkeypatch.setattr(sql, "_dialect", lambda: name)
    return name


@pytest.mark.parametrize("query", READS)
def test_a_query_that_reads_is_taken(dialect: str, query: str) -> None:
    assert sql.check_query("spec.query", query) == query


@pytest.mark.parametrize(("query", "problem"), REFUSED)
def test_anything_else_is_refused_naming_the_field(dialect: str, query: str, problem: str) -> None:
    with pytest.raises(InvalidAlertRule) as refused:
        sql.check_query("spec.query", query)
    assert refused.value.message.startswith("spec.query: ")
    assert problem in refused.value.message
