"""``args_repr`` writes what Celery's ``saferepr`` writes, for any JSON arguments."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from celery.utils.saferepr import saferepr
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.speedups.argsrepr import args_repr

MAXSIZE = 1024  # Celery's argsrepr_maxsize
MAXLEVELS = 3  # Celery's task_repr_maxlevels

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=60,
)


@settings(max_examples=500, deadline=None)
@given(payload=json_values)
def test_matches_saferepr_for_any_json_payload(payload: Any) -> None:
    args = [payload]
    assert args_repr(args, MAXSIZE, MAXLEVELS) == saferepr(args, MAXSIZE, maxlevels=MAXLEVELS)


@pytest.mark.parametrize(
    "payload",
    [
        {"ms": 5, "note": "é"},  # plain: the fast path
        {"quote": "it's"},  # saferepr escapes the quote its own way
        {"path": "C:\\temp", "line": "a\nb", "tab": "\t"},
        {"deep": {"deeper": {"deepest": [1]}}},  # elided past three levels
        {"long": "x" * 1021},  # exactly at, then past, the size limit
        {"long": "x" * 1022},
        {"many": list(range(600))},
        {1: "int key", (1, 2): "tuple key"},
        {"nan": float("nan"), "inf": float("inf"), "big": 10**30, "flag": True},
        {"set": {1, 2}, "tuple": (1,)},
    ],
)
def test_matches_saferepr_at_the_edges(payload: dict[Any, Any]) -> None:
    args = [payload]
    assert args_repr(args, MAXSIZE, MAXLEVELS) == saferepr(args, MAXSIZE, maxlevels=MAXLEVELS)


def test_no_level_limit_reads_as_celery_reads_it() -> None:
    args = [{"a": {"b": {"c": {"d": [1, 2]}}}}]
    assert args_repr(args, MAXSIZE, 0) == saferepr(args, MAXSIZE, maxlevels=0) == repr(args)


def test_plain_payloads_skip_saferepr() -> None:
    args = [{"ms": 5, "note": "é", "tags": ["a", "b"], "ratio": 0.5, "on": True, "none": None}]
    with mock.patch("workers.speedups.argsrepr.saferepr", side_effect=AssertionError("slow path")):
        assert args_repr(args, MAXSIZE, MAXLEVELS) == repr(args)
