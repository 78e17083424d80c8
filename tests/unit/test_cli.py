"""The CLI's pure parts and failure paths that need no broker: help, validation, one-line errors."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from pydantic import SecretStr

from cli.devstack import Endpoint, ensure_admin_key, ensure_flower_auth
from cli.flower import flower_command
from cli.jobs import as_usage_problem, parse_payload
from cli.keys import check_scope
from cli.output import UsageProblem, plural, truncated
from cli.paths import project_root as find_project_root
from cli.paths import read_secret, write_secret
from tests.support.cli import one_line_failure, run
from tests.support.devstack import free_port
from workers.errors import InvalidJob
from workers.settings import get_settings
from workers.store import keys as key_store
from workers.store.engine import dispose_engines
from workers.store.migrate import alembic_config, upgrade
from workers.timestamps import parse_rfc3339


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Edit TASKYARD_* variables for one test; settings and engines are rebuilt around it."""
    monkeypatch.delenv("TASKYARD_FLOWER_BASIC_AUTH", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    dispose_engines()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "args",
    [[], ["keys"], ["keys", "create"], ["jobs", "enqueue"], ["jobs", "show"], ["jobs", "cancel"],
     ["jobs", "replay"], ["jobs", "retry"], ["dead-letters"], ["dead-letters", "list"],
     ["dead-letters", "replay"], ["dead-letters", "purge"], ["poison"], ["poison", "list"],
     ["poison", "purge"], ["dlq"], ["dlq", "list"], ["dlq", "poison", "purge"], ["db"],
     ["flower"], ["dev"]],
)  # fmt: skip
def test_every_command_has_help(args: list[str]) -> None:
    result = run(*args, "--help")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: taskyard")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (["jobs", "retry"], "taskyard jobs replay"),
        (["dlq"], "taskyard dead-letters"),
        (["dlq", "poison"], "taskyard poison"),
    ],
)
def test_a_deprecated_alias_is_hidden_and_its_help_names_the_command_to_use(
    old: list[str], new: str
) -> None:
    listing = run(*old[:-1], "--help").stdout
    alias_help = run(*old, "--help").stdout

    assert new.split()[-1] in listing
    assert f"  {old[-1]} " not in listing
    assert f"Deprecated alias of `{new}`" in alias_help
    assert alias_help.startswith(f"Usage: taskyard {' '.join(old)} ")


def test_the_dlq_alias_keeps_every_dead_letters_command_and_poison() -> None:
    from cli.dead_letters import dead_letters, dlq

    assert set(dlq.commands) == set(dead_letters.commands) | {"poison"}
    assert "poison" not in dead_letters.commands


def test_bare_taskyard_shows_the_commands() -> None:
    result = run()

    assert result.exit_code == 0
    for command in ("keys", "jobs", "dead-letters", "poison", "db", "flower", "dev"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nosuch"], "no such command 'nosuch'; see `taskyard --help`"),
        (["keys", "create", "--scope", "admin"], "missing option '--name'"),
        (["keys", "create", "--name", "x"], "missing option '--scope'"),
        (["dev", "--api-port", "0"], "--api-port"),
        (["jobs", "enqueue", "diag.noop", "--run-at", "2026-01-01T09:00:00"], "has no time zone"),
        (["jobs", "enqueue", "diag.noop", "--delay", "-1"], "--delay"),
        (["jobs", "enqueue", "diag.noop", "--unique-for", "0"], "--unique-for"),
        (["jobs", "cancel", "not-a-uuid"], "ID"),
        (["dead-letters", "list", "--since", "last tuesday"], "not an RFC 3339 date-time"),
        (["dead-letters", "replay", "--until", "2026-01-01"], "has no time zone"),
        (["dead-letters", "purge", "--queue", "urgent"], "--queue"),
        (["dlq", "purge", "--queue", "urgent"], "--queue"),
        (
            [
                "dead-letters",
                "purge",
                "--since",
                "2026-01-02T00:00:00Z",
                "--until",
                "2026-01-01T00:00:00Z",
            ],
            "--since (2026-01-02 00:00:00 UTC) must be before --until",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args: list[str], expected: str) -> None:
    assert expected in one_line_failure(run(*args), 2)


@pytest.mark.parametrize(
    "scope", ["admin", "jobs:read", "jobs:write", "jobs:write:diag.*", "jobs:write:diag.[ns]*"]
)
def test_known_scopes_pass(scope: str) -> None:
    assert check_scope(scope) == scope


@pytest.mark.parametrize(
    "scope", ["", "Admin", "jobs", "jobs:write:", "jobs:write: x", "jobs:read:diag.*", "*"]
)
def test_unknown_scopes_are_usage_problems(scope: str) -> None:
    with pytest.raises(UsageProblem, match="unknown scope"):
        check_scope(scope)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T09:00:00Z", datetime(2026, 1, 1, 9, tzinfo=UTC)),
        ("2026-01-01t09:00:00z", datetime(2026, 1, 1, 9, tzinfo=UTC)),
        ("2026-01-01T11:00:00+02:00", datetime(2026, 1, 1, 9, tzinfo=UTC)),
        ("2026-01-01 09:00:00.250-00:30", datetime(2026, 1, 1, 9, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps_need_a_zone_and_come_back_in_utc(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)

    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("2026-01-01T09:00:00", "no time zone"), ("2026-01-01", "no time zone"),
     ("soon", "not an RFC 3339"), ("2026-13-01T00:00:00Z", "not an RFC 3339")],
)  # fmt: skip
def test_bad_timestamps_say_what_to_write(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as raised:
        parse_rfc3339(text)

    assert "2026-01-01T09:00:00Z" in str(raised.value)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("give delay_s or run_at, not both", "give --delay or --run-at, not both"),
        ("delay_s must be between 0 and 31536000 (a year)", "--delay must be between"),
        ("unique_key needs unique_for_s (the job type sets none)",
         "--unique-key needs --unique-for (the job type sets none)"),
        ("run_at must be within a year", "--run-at must be within a year"),
    ],
)  # fmt: skip
def test_producer_refusals_name_the_options(message: str, expected: str) -> None:
    problem = as_usage_problem(InvalidJob(message))

    assert problem.exit_code == 2
    assert problem.format_message().startswith(expected)


def test_payload_refusals_keep_their_field_names() -> None:
    details = [{"field": "run_at", "message": "Field required"}]

    problem = as_usage_problem(InvalidJob("invalid payload for x.y", details))

    assert problem.format_message() == "invalid payload for x.y: run_at: Field required"


def test_long_errors_are_cut_to_one_line() -> None:
    assert truncated("short", 10) == "short"
    assert truncated("a\nmultiline   message that goes on", 12) == "a multiline…"
    assert len(truncated("x" * 100, 60)) == 60
    assert truncated(None, 10) == truncated("", 10) == "-"
    assert (plural(1, "dead job"), plural(2, "dead job")) == ("1 dead job", "2 dead jobs")


def test_payload_must_be_a_json_object() -> None:
    assert parse_payload('{"ms": 5}') == {"ms": 5}
    with pytest.raises(UsageProblem, match="not valid JSON"):
        parse_payload("{")
    with pytest.raises(UsageProblem, match="must be a JSON object"):
        parse_payload('"text"')


def test_flower_credentials_travel_in_the_environment_only(tmp_path: Path) -> None:
    command = flower_command("127.0.0.1", 5599, "ops:s3cret", tmp_path, {"PATH": "/bin"})

    assert not any("s3cret" in arg for arg in command.argv)
    assert command.env["FLOWER_BASIC_AUTH"] == "ops:s3cret"
    assert command.env["PATH"] == "/bin"
    assert "--port=5599" in command.argv
    assert f"--db={tmp_path / 'flower.db'}" in command.argv
    assert "--persistent=True" in command.argv


def test_flower_refuses_to_start_without_credentials(settings_env: pytest.MonkeyPatch) -> None:
    line = one_line_failure(run("flower", "--port", str(free_port())), 1)

    assert "TASKYARD_FLOWER_BASIC_AUTH" in line


def test_an_unreachable_store_is_one_line(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("TASKYARD_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/x")

    line = one_line_failure(run("keys", "list"), 1)

    assert "the job store is unreachable (TASKYARD_DATABASE_URL)" in line


def test_an_unmigrated_store_says_to_upgrade(
    settings_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings_env.setenv("TASKYARD_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")

    assert "taskyard db upgrade" in one_line_failure(run("keys", "list"), 1)


def test_db_upgrade_migrates_a_fresh_store_then_does_nothing(
    settings_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    settings_env.setenv("TASKYARD_DATABASE_URL", url)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()

    first, second = run("db", "upgrade"), run("db", "upgrade")

    assert first.exit_code == 0, first.output
    assert f"from empty to {head} (head)" in first.stdout
    assert "Made the shipped alert rules taskyard-workers-down," in first.stdout
    assert second.exit_code == 0, second.output
    assert f"already at revision {head} (head)" in second.stdout
    assert "shipped alert rules" not in second.stdout  # made once; an operator's edits stay


def test_dev_fails_fast_when_the_configured_broker_is_down(
    settings_env: pytest.MonkeyPatch, project_root: Path, tmp_path: Path
) -> None:
    settings_env.chdir(project_root)
    for name, value in {
        "TASKYARD_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "TASKYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "TASKYARD_VAR_DIR": str(tmp_path / "var"),
        "TASKYARD_LOG_FORMAT": "text",
    }.items():
        settings_env.setenv(name, value)
    ports = ["--api-port", str(free_port()), "--flower-port", str(free_port())]

    line = one_line_failure(run("dev", *ports), 1)

    assert "unreachable (TASKYARD_BROKER_URL)" in line
    assert not (tmp_path / "store.db").exists()


def test_dev_needs_a_procfile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)

    assert "no Procfile" in one_line_failure(run("dev", "--var-dir", str(tmp_path / "v")), 1)


def test_project_root_is_found_from_a_subdirectory(project_root: Path) -> None:
    assert find_project_root(project_root / "cli") == project_root


def test_secrets_are_written_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secret"

    write_secret(path, "tyk_abc")

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_secret(path) == "tyk_abc"
    assert read_secret(tmp_path / "missing") is None


def test_flower_credentials_are_generated_once_then_reused(tmp_path: Path) -> None:
    created = ensure_flower_auth(tmp_path, None)

    assert created.startswith("admin:")
    assert ensure_flower_auth(tmp_path, None) == created
    assert ensure_flower_auth(tmp_path, SecretStr("ops:pw")) == "ops:pw"


def test_wildcard_binds_are_shown_as_loopback() -> None:
    wildcard = Endpoint("0.0.0.0", 8000, "--api-port")  # noqa: S104 (the wildcard is the point)
    assert wildcard.url == "http://127.0.0.1:8000"
    assert Endpoint("127.0.0.1", 5555, "--flower-port").url == "http://127.0.0.1:5555"


def test_the_dev_admin_key_is_reused_until_it_stops_working(
    settings_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings_env.setenv("TASKYARD_DATABASE_URL", url)
    upgrade(url)

    first = ensure_admin_key(tmp_path)
    assert ensure_admin_key(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "dev-admin.key").st_mode) == 0o600

    record = key_store.authenticate(first)
    assert record is not None
    assert record.scopes == ["admin"]
    assert record.name.startswith("dev-admin-")
    key_store.revoke_key(record.name)
    replacement = ensure_admin_key(tmp_path)
    assert replacement != first
    assert read_secret(tmp_path / "dev-admin.key") == replacement
    assert key_store.authenticate(replacement) is not None
