"""Reading a Prometheus instant-query answer into rows, and the shape of a server URL (pure;
the real server is asked in ``tests/integration/test_alert_promql.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.alerts.errors import EvaluationFailed, InvalidAlertRule
from tasks.alerts.promql import rows_of, server_url
from tasks.alerts.sql import MAX_ROWS
from tests.support.channels import channel_settings


def answer(kind: str, result: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": kind, "result": result}}


def sample(value: str, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [1_700_000_000.5, value]}


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        (answer("vector", []), []),
        (
            answer("vector", [sample("3", __name__="up", job="api"), sample("0.5", job="db")]),
            [({"job": "api"}, 3.0), ({"job": "db"}, 0.5)],
        ),
        (answer("vector", [sample("-2e3")]), [({}, -2000.0)]),
        (answer("scalar", [1_700_000_000, "7"]), [({}, 7.0)]),
    ],
)
def test_vectors_and_scalars_are_rows_of_labels_and_values(
    body: dict[str, Any], rows: list[tuple[dict[str, str], float]]
) -> None:
    assert rows_of(body) == rows


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([], "not a JSON object"),
        ({"status": "error", "errorType": "bad_data", "error": "parse error"}, "bad_data"),
        ({"status": "error", "errorType": "timeout", "error": "query timed out"}, "timeout"),
        (answer("matrix", [{"metric": {}, "values": []}]), "matrix"),
        (answer("string", [1, "x"]), "string"),
        ({"status": "success"}, "not a vector"),
        (answer("vector", [sample("NaN")]), "not a finite number"),
        (answer("vector", [sample("+Inf")]), "not a finite number"),
        (answer("vector", [sample("many")]), "is not a number"),
        (answer("vector", [{"metric": {}}]), "no [time, value] pair"),
        (answer("vector", ["x"]), "not a sample"),
        (answer("scalar", ["x"]), "not a vector or scalar"),
        (answer("vector", [sample("1", i=str(n)) for n in range(MAX_ROWS + 1)]), "more than"),
    ],
)
def test_anything_else_is_an_evaluation_error_saying_why(body: Any, says: str) -> None:
    with pytest.raises(EvaluationFailed, match="^.*" + says.replace("[", r"\[")):
        rows_of(body)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("https://prometheus.example/prom/", "https://prometheus.example/prom"),
    ],
)
def test_a_server_url_is_kept_without_its_trailing_slash(url: str, expected: str) -> None:
    assert server_url(url) == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://prometheus:21", "http:// or https://"),
        ("http://", "http:// or https://"),
        ("http://user:secret@prometheus:9090", "credentials"),
        ("http://prometheus:9090/?x=1", "without ? or #"),
    ],
)
def test_a_bad_server_url_is_refused_naming_spec_url(url: str, says: str) -> None:
    with pytest.raises(InvalidAlertRule) as refused:
        server_url(url)
    assert refused.value.details[0]["field"] == "spec.url"
    assert says in refused.value.message


def test_without_a_url_the_configured_server_is_read_and_none_is_refused() -> None:
    with channel_settings(TASKYARD_PROMETHEUS_URL="http://127.0.0.1:9090/"):
        assert server_url(None) == "http://127.0.0.1:9090"
    with channel_settings(TASKYARD_PROMETHEUS_URL=None), pytest.raises(InvalidAlertRule) as refused:
        server_url(None)
    assert "TASKYARD_PROMETHEUS_URL" in refused.value.message
