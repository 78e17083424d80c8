"""``taskyard alerts`` on both stores: rules add, list, show, pause, resume, remove; alerts
list and history; one-line errors with the CLI's exit codes, naming the option."""

from __future__ import annotations

import uuid

from cli.output import EXIT_FAILED, EXIT_USAGE
from tasks.alerts import rule_store as store
from tasks.alerts.evaluation import evaluate_due, slot_of
from tests.support.cli import last_line, one_line_failure, run
from workers.store.types import utcnow


def add(name: str, *extra: str) -> list[str]:
    return ["alerts", "rules", "add", name, "--source", "dead_jobs", "--op", ">=",
            "--threshold", "0", "--every", "10", *extra]  # fmt: skip


def test_rules_are_added_shown_paused_resumed_and_removed(runtime: dict[str, str]) -> None:
    result = run(*add("dead", "--label", "team=ops", "--summary", "{{ value }} dead",
                      "--spec", '{"window_s": 600}', "--for", "30"))  # fmt: skip
    record = store.get_rule(uuid.UUID(last_line(result)))
    assert (record.name, record.labels, record.for_s) == ("dead", {"team": "ops"}, 30)
    assert record.spec == {"window_s": 600, "job_type": None}

    listed = run("alerts", "rules", "list")
    assert "dead" in listed.stdout
    assert ">= 0" in listed.stdout
    shown = run("alerts", "rules", "show", "dead")
    assert "{{ value }} dead" in shown.stdout
    assert run("alerts", "rules", "pause", "dead").stdout.strip() == "Alert rule 'dead' is paused."
    assert store.find_rule("dead").paused
    assert run("alerts", "rules", "resume", "dead").exit_code == 0
    assert not store.find_rule("dead").paused
    assert run("alerts", "rules", "remove", "dead").exit_code == 0
    missing = one_line_failure(run("alerts", "rules", "show", "dead"), EXIT_FAILED)
    assert missing.endswith("`taskyard alerts rules list` shows them")


def test_a_bad_rule_is_one_line_naming_the_option(runtime: dict[str, str]) -> None:
    nan = one_line_failure(run(*add("nan", "--threshold", "nan")), EXIT_USAGE)
    assert "--threshold: must be a finite number" in nan
    sql = one_line_failure(
        run(
            "alerts",
            "rules",
            "add",
            "sql",
            "--source",
            "sql",
            "--op",
            ">",
            "--threshold",
            "1",
            "--spec",
            '{"query": "DELETE FROM jobs"}',
        ),
        EXIT_USAGE,
    )
    assert "--spec spec.query: must be a SELECT, not DELETE" in sql
    every = one_line_failure(run(*add("odd", "--every", "15")), EXIT_USAGE)
    assert "--every: must be a multiple of 10" in every
    label = one_line_failure(run(*add("lbl", "--label", "nolabel")), EXIT_USAGE)
    assert "--label: 'nolabel' is not NAME=VALUE" in label


def test_alerts_and_their_history_are_listed(runtime: dict[str, str]) -> None:
    assert run(*add("always", "--label", "team=ops")).exit_code == 0
    evaluate_due(slot_of(utcnow(), 10))
    listed = run("alerts", "list", "--rule", "always")
    assert "firing" in listed.stdout
    assert "team=ops" in listed.stdout
    history = run("alerts", "history", "--rule", "always")
    assert "FIRING" in history.stdout
    assert "create" in history.stdout
    assert run("alerts", "list", "--state", "pending", "--rule", "always").stdout == ""
    assert run("alerts", "rules", "remove", "always").exit_code == 0
