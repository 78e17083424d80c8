"""Hostile command lines on a real store (SQLite, then PostgreSQL): extreme timestamps, NUL
and other characters no store takes, huge numbers, deep nesting and JSON no parser reads get
one line on stderr and exit code 2 from every option that takes a time, a text or a number;
never a traceback. ``test_hostile_api.py`` does the same for the API."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cli import one_line_failure, run
from tests.support.hostile import (
    BAD_TEXT,
    DOCUMENTS,
    HUGE_NUMBERS,
    TIMESTAMPS,
    UNREPRESENTABLE,
    nested,
    some_of,
)

Headers = dict[str, str]


CLI_TIMES = [
    ["dead-letters", "list", "--since"],
    ["dead-letters", "list", "--until"],
    ["dead-letters", "replay", "--yes", "--since"],
    ["dead-letters", "purge", "--yes", "--until"],
    ["jobs", "enqueue", "diag.noop", "--run-at"],
]


@pytest.mark.parametrize("stamp", UNREPRESENTABLE)
@pytest.mark.parametrize("args", CLI_TIMES, ids=[" ".join(a) for a in CLI_TIMES])
def test_cli_times_the_store_cannot_hold_are_one_line_and_exit_2(
    runtime: dict[str, str], args: list[str], stamp: str
) -> None:
    line = one_line_failure(run(*args, stamp), 2)

    assert "outside the times the store holds" in line


CLI_SCHEDULES = [
    ("NaN in payload", ["--task", "maintenance.purge", "--payload", '{"x": NaN}'], "payload.x"),
    ("huge integer", ["--task", "maintenance.purge", "--payload", '{"x": 1e400}'], "payload.x"),
    ("65-bit integer", ["--task", "maintenance.purge", "--payload", f'{{"x": {2**64}}}'],
     "payload.x"),
    ("deep payload", ["--task", "maintenance.purge", "--payload", json.dumps(nested(40))],
     "payload"),
    ("long cron", ["--task", "diag.noop", "--cron", ",".join(["0"] * 60) + " * * * *"],
     "--cron: must be at most 120"),
    ("long time zone", ["--task", "diag.noop", "--cron", "0 3 * * *",
                        "--tz", "Europe" + "/" * 60 + "Berlin"], "--tz: must be at most 64"),
    ("NUL in description", ["--task", "diag.noop", "--description", "a\x00b"],
     "--description: must not contain NUL"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "words"), [c[1:] for c in CLI_SCHEDULES], ids=[c[0] for c in CLI_SCHEDULES]
)
def test_cli_schedules_the_store_cannot_hold_are_one_line_and_exit_2(
    runtime: dict[str, str], args: list[str], words: str
) -> None:
    every = [] if "--cron" in args else ["--every", "60"]

    line = one_line_failure(run("schedules", "add", f"h-{uuid.uuid4().hex[:8]}", *args, *every), 2)

    assert words in line


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ('{"tenant": "a", "ms": NaN}', "ms"),
        ('{"tenant": "\\ud800"}', "surrogate"),
        ('{"tenant": "a", "ms": ' + "9" * 5000 + "}", "too long to read"),
        ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
    ],
    ids=["NaN", "surrogate", "5000 digits", "deep"],
)
def test_cli_enqueue_refuses_what_the_store_cannot_hold(
    runtime: dict[str, str], payload: str, words: str
) -> None:
    line = one_line_failure(run("jobs", "enqueue", "diag.limited", "--payload", payload), 2)

    assert words in line


NAMED = [["keys", "revoke"], ["schedules", "pause"], ["schedules", "resume"],
         ["schedules", "remove"], ["poison", "list", "--queue"],
         ["poison", "purge", "--yes", "--queue"]]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "words"),
    [("a\x00b", "must not contain NUL"), ("\ud800", "lone surrogate"),
     ("x" * 256, "must be at most")],
    ids=["NUL", "surrogate", "256 characters"],
)  # fmt: skip
@pytest.mark.parametrize("command", NAMED, ids=[" ".join(c) for c in NAMED])
def test_cli_names_no_store_holds_are_one_line_and_exit_2(
    runtime: dict[str, str], command: list[str], name: str, words: str
) -> None:
    # a lookup of a name no store can hold was a traceback (a NUL on PostgreSQL, a lone
    # surrogate on both)
    line = one_line_failure(run(*command, name), 2)

    assert words in line


CLI_TEXT = BAD_TEXT.filter(lambda text: not text.startswith("-"))
CLI_NUMBERS = HUGE_NUMBERS.map(str)
UNREADABLE_JSON = ('{"a": ' + "9" * 5000 + "}", "[" * 50_000 + "]" * 50_000)
CLI_PAYLOADS = st.one_of(DOCUMENTS.map(json.dumps), st.sampled_from(UNREADABLE_JSON))


def _flags(**options: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """Some of ``options`` as ``--name value`` pairs (underscores become dashes)."""
    chosen = some_of(**options)
    return chosen.map(
        lambda found: [part for name, value in found.items()
                       for part in (f"--{name.replace('_', '-')}", value)]
    )  # fmt: skip


#: One command for every CLI option that takes a time, a text or a number.
COMMANDS = st.one_of(
    st.builds(lambda command, name: [*command, name], st.sampled_from(NAMED), CLI_TEXT),
    st.builds(lambda flags: ["dead-letters", "list", *flags],
              _flags(since=TIMESTAMPS, until=TIMESTAMPS, type=CLI_TEXT, limit=CLI_NUMBERS)),
    st.builds(lambda flags: ["dead-letters", "replay", "--yes", *flags],
              _flags(since=TIMESTAMPS, until=TIMESTAMPS, type=CLI_TEXT, limit=CLI_NUMBERS)),
    st.builds(lambda job_type, flags: ["jobs", "enqueue", job_type, *flags],
              st.one_of(st.sampled_from(["diag.noop", "diag.limited"]), CLI_TEXT),
              _flags(run_at=TIMESTAMPS, delay=CLI_NUMBERS, payload=CLI_PAYLOADS,
                     priority=CLI_NUMBERS, idempotency_key=CLI_TEXT, unique_key=CLI_TEXT,
                     unique_for=CLI_NUMBERS)),
    st.builds(lambda name, timing, flags: ["schedules", "add", name, "--task",
                                           "maintenance.purge", *timing, *flags],
              st.one_of(st.uuids().map("h-{}".format), CLI_TEXT),
              st.one_of(st.builds(lambda n: ["--every", n], CLI_NUMBERS),
                        st.builds(lambda c, z: ["--cron", c, "--tz", z],
                                  st.one_of(st.just("0 3 * * *"), CLI_TEXT), CLI_TEXT)),
              _flags(payload=CLI_PAYLOADS, description=CLI_TEXT, expires=CLI_NUMBERS,
                     priority=CLI_NUMBERS)),
)  # fmt: skip
CLI_EXAMPLES = 200
HOSTILE = settings(
    max_examples=CLI_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def test_no_hostile_command_line_gets_a_traceback(runtime: dict[str, str]) -> None:
    @HOSTILE
    @given(COMMANDS)
    def check(args: list[str]) -> None:
        result = run(*args)
        where = f"taskyard {' '.join(map(repr, args)):.300}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{where}: {result.exception!r}"
        )
        assert "Traceback" not in result.output, where
        assert result.exit_code in (0, 1, 2), f"{where}: {result.output}"
        if result.exit_code == 2:
            one_line_failure(result, 2)

    check()
