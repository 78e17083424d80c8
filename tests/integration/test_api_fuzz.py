"""The API fuzzed from its own OpenAPI document, with data that fits it and data that does
not: no generated input gets a 5xx, and every error has the one JSON shape. Every date-time
the document declares is generated from extreme timestamps too (``tests/support/hostile.py``);
``test_hostile_api.py`` goes further for NUL, huge numbers and deep nesting."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from api.app import create_app
from tests.support.hostile import AWARE_STAMPS, EXTREME_STAMPS, UNREPRESENTABLE
from workers.store.keys import create_key

EXAMPLES_PER_OPERATION = 20
#: Data that does not fit the document, for each operation with a query or a body.
NEGATIVE_EXAMPLES = 8
#: Every ``format: date-time`` value: ordinary times in any offset, and the extremes.
schemathesis.openapi.format(
    "date-time", st.one_of(AWARE_STAMPS, EXTREME_STAMPS, st.sampled_from(UNREPRESENTABLE))
)


def _fuzz(operation: Any, headers: dict[str, str], mode: GenerationMode, examples: int) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, f"{where}: {response.text}"

    check()


def test_no_generated_request_gets_a_server_error(runtime: dict[str, str]) -> None:
    key = create_key(f"fuzz-{uuid.uuid4().hex[:8]}", ["admin"]).secret
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    headers = {"Authorization": f"Bearer {key}"}
    for operation in operations:
        _fuzz(operation, headers, GenerationMode.POSITIVE, EXAMPLES_PER_OPERATION)
        if len(operation.query) or len(operation.body):
            _fuzz(operation, headers, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
