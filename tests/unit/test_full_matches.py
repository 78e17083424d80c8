"""Names and patterns match in full: ``re.match`` with ``$`` lets a trailing newline through
(``$`` matches before it), so the project checks input with ``fullmatch`` only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.app import create_app
from api.schedule_schemas import ScheduleIn
from api.schemas import JobIn, ReplayIn
from cli.keys import check_name
from cli.output import UsageProblem
from schedules.entries import ScheduleSpec, check_spec
from schedules.errors import InvalidSchedule
from schedules.slots import Timing
from workers.jobtypes import JobType, Payload
from workers.names import NAME_PATTERN, is_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "bench", "cli", "schedules", "tasks", "workers")


def _match_calls() -> Iterator[str]:
    """``file:line`` of every ``<something>.match(...)`` call in the project's code."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "match"
                ):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}"


def test_no_code_checks_input_with_re_match() -> None:
    assert list(_match_calls()) == [], "use fullmatch: `$` lets a trailing newline through"


def _copies_of(literal: str) -> Iterator[str]:
    """``file:line`` of every string constant equal to ``literal`` in the project's code."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and node.value == literal:
                    yield f"{path.relative_to(ROOT)}:{node.lineno}"


def test_names_have_one_pattern_for_keys_and_schedules() -> None:
    assert list(_copies_of(NAME_PATTERN.pattern)) == ["workers/names.py:8"]
    for name in ("billing", "nightly-purge", "a" * 200, "a" * 201, "-x", "x y", "x\n", ""):
        schedule = ScheduleSpec(name=name, task="diag.noop", timing=Timing(interval_s=60))
        key_ok = _accepted(check_name, name, UsageProblem)
        schedule_ok = _accepted(check_spec, schedule, InvalidSchedule)
        assert key_ok == schedule_ok == is_name(name), name


def _accepted(check: Any, value: Any, refusal: type[Exception]) -> bool:
    try:
        check(value)
    except refusal:
        return False
    return True


def test_a_schedule_name_with_a_trailing_newline_is_refused() -> None:
    spec = ScheduleSpec(name="nightly\n", task="diag.noop", timing=Timing(interval_s=60))

    with pytest.raises(InvalidSchedule, match="name"):
        check_spec(spec)


def test_a_key_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(UsageProblem, match="invalid key name"):
        check_name("billing\n")


def test_a_job_type_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError, match=r"family\.action"):
        JobType("diag.noop\n", Payload, "x")


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (ScheduleIn, {"name": "nightly\n", "task": "diag.noop", "interval_s": 60}),
        (JobIn, {"type": "diag.noop\n"}),
        (ReplayIn, {"type": "diag.noop\n"}),
    ],
)
def test_api_patterns_refuse_a_trailing_newline(
    model: type[BaseModel], fields: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="pattern"):
        model.model_validate(fields)


def _patterns(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(document, list):
        for item in document:
            yield from _patterns(item)


def test_every_api_pattern_is_anchored_at_both_ends() -> None:
    # pydantic searches (its Rust engine's `$` is the end of the text): unanchored, a pattern
    # would accept any text that contains a match
    patterns = set(_patterns(create_app().openapi()))

    assert patterns
    for pattern in patterns:
        assert pattern.startswith("^"), pattern
        assert pattern.endswith("$"), pattern
