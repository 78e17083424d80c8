"""``taskyard schedules`` on a real store: list, add, pause, resume, remove; one-line errors."""

from __future__ import annotations

import uuid

import pytest

from schedules import store
from schedules.catalog import STATIC_ENTRIES
from tests.support.cli import one_line_failure, run
from workers.errors import ECHO_LIMIT


@pytest.fixture(scope="module", autouse=True)
def catalog(runtime: dict[str, str]) -> None:
    store.sync_static(STATIC_ENTRIES)


def test_list_shows_every_entry_with_when_and_runs(runtime: dict[str, str]) -> None:
    result = run("schedules", "list")

    assert result.exit_code == 0, result.output
    purge = next(line for line in result.stdout.splitlines() if "maintenance.purge " in line)
    for cell in ("15 3 * * * (UTC)", "At 03:15 AM", "static", " no "):
        assert cell in purge
    canary = next(line for line in result.stdout.splitlines() if "maintenance.canary" in line)
    assert "* * * * * (UTC)" in canary
    assert "Every minute" in canary


def test_add_creates_a_dynamic_entry_and_prints_its_id(runtime: dict[str, str]) -> None:
    result = run("schedules", "add", "morning-sleep", "--task", "diag.sleep", "--cron",
                 "0 7 * * *", "--tz", "Europe/Berlin", "--payload", '{"ms": 3}', "--queue",
                 "bulk", "--priority", "2", "--missed", "catch_up")  # fmt: skip

    assert result.exit_code == 0, result.output
    record = store.get_schedule(uuid.UUID(result.stdout.splitlines()[-1]))
    assert (record.name, record.task, record.cron, record.timezone) == (
        "morning-sleep", "diag.sleep", "0 7 * * *", "Europe/Berlin",
    )  # fmt: skip
    assert (record.args, record.queue, record.priority, record.missed) == (
        {"ms": 3}, "bulk", 2, "catch_up",
    )  # fmt: skip
    assert not record.static
    assert "At 07:00 AM" in result.stderr
    listed = run("schedules", "list").stdout
    assert "0 7 * * * (Europe/Berlin)" in listed
    assert "dynamic" in listed


def test_pause_resume_and_remove_by_name(runtime: dict[str, str]) -> None:
    assert (
        run("schedules", "add", "short-lived", "--task", "diag.noop", "--every", "5").exit_code == 0
    )

    paused = run("schedules", "pause", "short-lived")
    assert paused.exit_code == 0, paused.output
    assert store.find_schedule("short-lived").paused
    assert store.find_schedule("short-lived").next_run_at is None

    resumed = run("schedules", "resume", "short-lived")
    assert resumed.exit_code == 0, resumed.output
    assert not store.find_schedule("short-lived").paused
    assert "next run" in resumed.stdout

    removed = run("schedules", "remove", "short-lived")
    assert removed.exit_code == 0, removed.output
    one_line_failure(run("schedules", "pause", "short-lived"), 1)


def test_a_static_entry_pauses_but_is_not_removed(runtime: dict[str, str]) -> None:
    assert run("schedules", "pause", "maintenance.backup").exit_code == 0
    assert store.find_schedule("maintenance.backup").paused

    line = one_line_failure(run("schedules", "remove", "maintenance.backup"), 1)

    assert "static" in line
    assert run("schedules", "resume", "maintenance.backup").exit_code == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--task", "diag.noop"], "--cron EXPR or --every SECONDS"),
        (["--task", "diag.noop", "--cron", "* * * * *", "--every", "5"], "exactly one"),
        (["--task", "diag.noop", "--every", "5", "--tz", "Europe/Paris"], "--tz applies"),
        (["--task", "diag.noop", "--every", "0"], "--every: must be between 1"),
        (["--task", "diag.noop", "--cron", "99 * * * *"], "--cron:"),
        (["--task", "diag.noop", "--cron", "0 * * * *", "--tz", "Moon/Base"], "--tz: unknown"),
        (["--task", "no.such", "--every", "5"], "--task: unknown task"),
        (["--task", "diag.sleep", "--every", "5", "--payload", "{"], "not valid JSON"),
        (["--task", "diag.sleep", "--every", "5", "--payload", "{}"], "payload.ms"),
        (["--task", "diag.noop", "--every", "5", "--priority", "12"], "--priority"),
        (
            ["--task", "maintenance.backup", "--every", "60", "--payload", '{"path": "/etc"}'],
            "invalid arguments for maintenance.backup: payload.path: Extra inputs",
        ),
        (
            ["--task", "maintenance.purge", "--every", "60", "--payload", '{"batch_size": 0}'],
            "payload.batch_size",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runtime: dict[str, str], args: list[str], words: str
) -> None:
    line = one_line_failure(run("schedules", "add", "rejected", *args), 2)

    assert words in line


@pytest.mark.parametrize("name", ["nightly\n", "nightly\nrun", "\nnightly", "night ly"])
def test_a_name_must_match_in_full(runtime: dict[str, str], name: str) -> None:
    line = one_line_failure(
        run("schedules", "add", name, "--task", "diag.noop", "--every", "60"), 2
    )

    assert "NAME: " in line
    assert "not a usable name" in line
    assert run("schedules", "pause", name).exit_code == 1


def test_a_huge_name_is_quoted_only_in_part(runtime: dict[str, str]) -> None:
    huge = "n" * 10_000

    added = one_line_failure(
        run("schedules", "add", huge, "--task", "diag.noop", "--every", "60"), 2
    )
    paused = one_line_failure(run("schedules", "pause", huge), 2)  # no stored name is as long

    for line in (added, paused):
        assert max(len(word) for word in line.split()) <= ECHO_LIMIT + 1, line[:300]
    assert added.startswith("taskyard: NAME: ")


def test_a_taken_name_is_one_line(runtime: dict[str, str]) -> None:
    line = one_line_failure(run("schedules", "add", "maintenance.purge", "--task", "diag.noop",
                                "--every", "5"), 1)  # fmt: skip

    assert "exists already" in line
