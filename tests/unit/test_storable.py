"""The one check of text and JSON documents before either store sees them: what it refuses,
where it says the problem is, and (as a property) that whatever it passes both stores hold."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings

from tests.support.hostile import DOCUMENTS, nested
from workers.storable import (
    MAX_DEPTH,
    MAX_INT,
    MIN_INT,
    Unstorable,
    check_document,
    check_text,
    storable_text,
)


@pytest.mark.parametrize(
    ("document", "where", "problem"),
    [
        ({"a": "x\x00"}, "a", "NUL"),
        ({"a": [{"k\x00": 1}]}, "a.0", "NUL"),
        ({"a": ["\ud800"]}, "a.0", "surrogate"),
        ({"n": 2**63}, "n", "64 bits"),
        ({"n": [-(2**63) - 1]}, "n.0", "64 bits"),
        ({"x": math.nan}, "x", "finite"),
        ({"x": {"y": -math.inf}}, "x.y", "finite"),
        ({1: "a"}, "", "keys must be strings"),
        ({"when": object()}, "when", "not a JSON value"),
        (nested(MAX_DEPTH + 1), ".".join(["a"] * MAX_DEPTH), f"deeper than {MAX_DEPTH}"),
        (nested(100_000), ".".join(["a"] * MAX_DEPTH), f"deeper than {MAX_DEPTH}"),
    ],
)
def test_what_a_store_cannot_hold_is_refused_naming_where(
    document: Any, where: str, problem: str
) -> None:
    with pytest.raises(Unstorable, match=problem) as raised:
        check_document(document)

    assert raised.value.where == where


def test_the_limits_themselves_pass() -> None:
    check_document({"min": MIN_INT, "max": MAX_INT, "deep": nested(MAX_DEPTH - 1), "f": 1e308})
    check_document(nested(MAX_DEPTH))


@pytest.mark.parametrize(
    ("value", "problem"),
    [("a\x00b", "NUL"), ("\udfff", "surrogate"), ("x" * 201, "at most 200 characters")],
)
def test_text_with_a_nul_or_too_long_is_refused(value: str, problem: str) -> None:
    with pytest.raises(Unstorable, match=problem) as raised:
        check_text("name", value, 200)

    assert raised.value.where == "name"


def test_text_within_the_limit_passes() -> None:
    check_text("name", "x" * 200, 200)
    check_text("name", None, 200)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_a_document_that_passes_is_strict_json_without_nul_in_range(document: Any) -> None:
    try:
        check_document(document)
    except Unstorable:
        return
    text = json.dumps(document, allow_nan=False)  # no NaN or Infinity: PostgreSQL refuses them
    assert "\\u0000" not in text
    json.dumps(document, ensure_ascii=False).encode()  # UTF-8 takes every string
    assert _depth(document) <= MAX_DEPTH
    assert json.loads(text) == document


def test_text_a_job_produces_keeps_all_but_what_no_store_takes() -> None:
    assert storable_text("a\x00b\ud800c\U0001f600\n") == "a\ufffdb\ufffdc\U0001f600\n"
