"""What the CLI says: help written for people (no reStructuredText), and error lines that
quote a caller's value only in part. No store or broker is reached."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest

from cli.main import cli
from tests.support.cli import one_line_failure, run
from workers.errors import ECHO_LIMIT, MESSAGE_LIMIT, TaskyardError, bounded, bounded_details
from workers.store.models import JobStatus

HUGE = "n" * 10_000
#: reStructuredText that click would print verbatim: ``literals``, roles, directives.
RST = re.compile(r"``|:(?:func|class|meth|mod|attr|data|exc|obj|ref|py:\w+):`|^\s*\.\. \w+::", re.M)


def _commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(cli))


@pytest.mark.parametrize(
    "path", [path for path, _ in COMMANDS], ids=[" ".join(p) or "taskyard" for p, _ in COMMANDS]
)
def test_every_help_is_plain_text(path: tuple[str, ...]) -> None:
    result = run(*path, "--help")

    assert result.exit_code == 0, result.output
    assert RST.search(result.stdout) is None, result.stdout


def test_the_walk_reaches_every_command() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}

    wanted = {"jobs enqueue", "jobs replay", "jobs retry", "schedules add", "dead-letters replay"}
    assert wanted | {"keys create"} <= paths


@pytest.mark.parametrize(
    "args",
    [
        [HUGE],
        ["jobs", "show", HUGE],
        ["jobs", "enqueue", "diag.noop", "--queue", HUGE],
        ["jobs", "enqueue", "diag.noop", "--priority", HUGE],
        ["jobs", "enqueue", "diag.noop", "--run-at", HUGE],
        ["jobs", "enqueue", "diag.noop", "--payload", HUGE],
        ["keys", "create", "--name", "x", "--scope", HUGE],
        ["keys", "create", "--name", HUGE, "--scope", "admin"],
        ["dead-letters", "list", "--since", HUGE],
        ["jobs", "list", f"--{HUGE}"],
    ],
    ids=lambda args: " ".join(a[:12] for a in args),
)
def test_an_error_line_quotes_a_huge_value_only_in_part(args: list[str]) -> None:
    line = one_line_failure(run(*args), 2)

    assert max(len(word) for word in line.split()) <= ECHO_LIMIT + 1, line[:300]
    assert len(line) < MESSAGE_LIMIT


def test_bounded_cuts_long_runs_and_long_texts() -> None:
    quoted = bounded(f"unknown name {HUGE!r}; use letters")

    assert quoted.startswith("unknown name 'nnn")
    assert quoted.endswith("… use letters")
    assert max(len(word) for word in quoted.split()) == ECHO_LIMIT + 1
    assert len(bounded("a " * 10_000)) == MESSAGE_LIMIT + 1
    assert bounded("short and sweet") == "short and sweet"


def test_bounded_details_cut_texts_keys_and_lists() -> None:
    details = bounded_details({HUGE: [{"field": HUGE}] * 500, "job_id": "j1", "limit": 5})

    key = next(iter(details))
    assert len(key) == ECHO_LIMIT + 1
    assert len(details[key]) == 50
    assert details[key][0] == {"field": f"{'n' * ECHO_LIMIT}…"}
    assert (details["job_id"], details["limit"]) == ("j1", 5)


def test_every_platform_error_is_bounded() -> None:
    error = TaskyardError(f"no schedule named {HUGE!r}")

    assert len(error.message) < 2 * ECHO_LIMIT
    assert str(error) == error.message


def test_every_status_reads_as_english() -> None:
    # "job 42 is succeeded" was the CLI's and the API's wording
    phrases = {status: status.in_words for status in JobStatus}

    assert phrases[JobStatus.SUCCEEDED] == "has succeeded"
    assert phrases[JobStatus.STARTED] == "has started"
    assert all(phrase.split()[0] in {"is", "has", "was"} for phrase in phrases.values())
