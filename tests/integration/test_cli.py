"""The operator CLI on a real store (SQLite, then PostgreSQL) and broker, with a real worker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory

from tests.support.cli import one_line_failure, run
from tests.support.jobs import wait_finished
from tests.support.worker import embedded_worker
from workers.store import keys as key_store
from workers.store.migrate import alembic_config
from workers.store.models import JobStatus


@pytest.fixture(scope="module")
def worker(runtime: dict[str, str]) -> Iterator[None]:
    with embedded_worker():
        yield


def test_keys_create_prints_a_key_that_authenticates(runtime: dict[str, str]) -> None:
    # When an operator creates a key with two scopes
    result = run("keys", "create", "--name", "billing", "--scope", "jobs:read", "--scope",
                 "jobs:write:diag.*")  # fmt: skip

    # Then the secret is stdout's last line, the confirmation went to stderr, and it works
    assert result.exit_code == 0, result.output
    secret = result.stdout.splitlines()[-1]
    assert secret.startswith(key_store.KEY_PREFIX)
    assert secret not in result.stderr
    assert "billing" in result.stderr
    record = key_store.authenticate(secret)
    assert record is not None
    assert record.name == "billing"
    assert record.scopes == ["jobs:read", "jobs:write:diag.*"]


def test_keys_list_shows_the_key_but_never_its_hash(runtime: dict[str, str]) -> None:
    issued = key_store.create_key("listed", ["admin"])

    result = run("keys", "list")

    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if " listed " in line)
    assert issued.record.key_prefix in row
    assert "admin" in row
    assert issued.record.key_hash not in result.output
    assert issued.secret not in result.output


def test_keys_revoke_makes_the_key_useless(runtime: dict[str, str]) -> None:
    issued = key_store.create_key("to-revoke", ["jobs:write"])
    assert key_store.authenticate(issued.secret) is not None

    result = run("keys", "revoke", "to-revoke")

    assert result.exit_code == 0, result.output
    assert "to-revoke" in result.stdout
    assert key_store.authenticate(issued.secret) is None
    again = run("keys", "revoke", "to-revoke")
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("scope", ["root", "jobs:write:", "jobs:delete", "jobs:write:Diag.*"])
def test_a_bad_scope_is_a_usage_error_and_creates_nothing(
    runtime: dict[str, str], scope: str
) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"

    result = run("keys", "create", "--name", name, "--scope", "admin", "--scope", scope)

    line = one_line_failure(result, 2)
    assert repr(scope) in line
    assert result.stdout == ""
    assert name not in {record.name for record in key_store.list_keys()}


def test_a_taken_key_name_and_an_unknown_one_fail_in_one_line(runtime: dict[str, str]) -> None:
    key_store.create_key("taken", ["admin"])

    assert "already exists" in one_line_failure(
        run("keys", "create", "--name", "taken", "--scope", "admin"), 1
    )
    assert "no API key named" in one_line_failure(run("keys", "revoke", "nobody"), 1)


def test_enqueued_job_succeeds_and_jobs_show_displays_it(worker: None) -> None:
    # Given a running worker, when an operator enqueues diag.sleep on the bulk queue
    result = run("jobs", "enqueue", "diag.sleep", "--payload", '{"ms": 5}', "--queue", "bulk",
                 "--priority", "2")  # fmt: skip

    # Then the id is stdout's last line and the job runs to success
    assert result.exit_code == 0, result.output
    job_id = result.stdout.splitlines()[-1]
    assert "diag.sleep" in result.stderr
    assert wait_finished(job_id).status == JobStatus.SUCCEEDED

    # And `jobs show` displays the record, as a table and as JSON
    table = run("jobs", "show", job_id)
    assert table.exit_code == 0, table.output
    for expected in (job_id, "diag.sleep", "succeeded", "bulk", '{"slept_ms": 5}'):
        assert expected in table.stdout
    shown = run("jobs", "show", job_id, "--json")
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert record["id"] == job_id
    assert record["status"] == "succeeded"
    assert record["priority"] == 2
    assert record["result"] == {"slept_ms": 5}
    assert record["attempts"] == 1


def test_jobs_list_shows_recent_jobs(worker: None) -> None:
    job_id = run("jobs", "enqueue", "diag.noop").stdout.splitlines()[-1]
    wait_finished(job_id)

    result = run("jobs", "list", "--type", "diag.noop", "--status", "succeeded")

    assert result.exit_code == 0, result.output
    assert job_id in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["diag.noop", "--payload", "{not json"], "not valid JSON"),
        (["diag.noop", "--payload", "[1, 2]"], "must be a JSON object"),
        (["diag.nope"], "unknown job type 'diag.nope'"),
        (["diag.sleep"], "ms: Field required"),
        (["diag.sleep", "--payload", '{"ms": -1}'], "ms: Input should be greater than"),
        (["diag.noop", "--queue", "urgent"], "--queue"),
        (["diag.noop", "--priority", "12"], "--priority"),
    ],
)
def test_a_bad_job_request_is_a_usage_error_and_enqueues_nothing(
    runtime: dict[str, str], args: list[str], expected: str
) -> None:
    result = run("jobs", "enqueue", *args)

    assert expected in one_line_failure(result, 2)
    assert result.stdout == ""


def test_jobs_show_of_an_unknown_id_fails_in_one_line(runtime: dict[str, str]) -> None:
    missing = str(uuid.uuid4())

    assert missing in one_line_failure(run("jobs", "show", missing), 1)
    assert "ID" in one_line_failure(run("jobs", "show", "not-a-uuid"), 2)


def test_db_upgrade_is_idempotent(runtime: dict[str, str]) -> None:
    # Given a store the fixture already migrated, when upgrade runs twice
    first = run("db", "upgrade")
    second = run("db", "upgrade")

    # Then both succeed and report the head revision, changing nothing
    head = ScriptDirectory.from_config(alembic_config(runtime["TASKYARD_DATABASE_URL"]))
    for result in (first, second):
        assert result.exit_code == 0, result.output
        assert f"already at revision {head.get_current_head()} (head)" in result.stdout
