"""The API fuzzed from its own OpenAPI document: no generated input gets a 5xx, and every
error has the one JSON shape."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from workers.store.keys import create_key

EXAMPLES_PER_OPERATION = 20


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
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

    for operation in operations:
        _fuzz(operation, {"Authorization": f"Bearer {key}"})
