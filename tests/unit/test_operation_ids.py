"""Every operation of the OpenAPI document has a stable, readable name: generated clients call
``create_job``, never FastAPI's ``create_job_v1_jobs_post``."""

from __future__ import annotations

import re

import pytest

from api.app import create_app
from api.operations import operation_id

SNAKE = re.compile(r"[a-z]+(_[a-z]+)*")
METHOD_SUFFIX = re.compile(r"_(get|post|put|patch|delete)$")


def _operations() -> list[tuple[str, str, str]]:
    spec = create_app().openapi()
    return [
        (method.upper(), path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_id_is_unique_snake_case_and_not_generated() -> None:
    operations = _operations()
    names = [name for _, _, name in operations]

    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for method, path, name in operations:
        assert SNAKE.fullmatch(name), (method, path, name)
        assert not METHOD_SUFFIX.search(name), (method, path, name)
        assert not re.search(r"v\d|_id\b", name), (method, path, name)


def test_the_names_people_and_clients_use() -> None:
    names = {(method, path): name for method, path, name in _operations()}

    assert names[("POST", "/v1/jobs")] == "create_job"
    assert names[("GET", "/v1/jobs/{job_id}")] == "get_job"
    assert names[("GET", "/v1/jobs")] == "list_jobs"
    assert names[("POST", "/v1/dead-letters/replay")] == "replay_dead_letters"
    assert names[("POST", "/v1/alert-rules")] == "create_alert_rule"
    assert names[("PATCH", "/v1/alert-rules/{rule_id}")] == "update_alert_rule"
    assert names[("GET", "/v1/deliveries/{delivery_id}")] == "get_delivery"
    assert names[("PATCH", "/v1/queues/{queue}")] == "update_queue"


#: Routes that do not exist (yet), and the names their method and path give them.
NEW_ROUTES = {
    ("GET", "/v1/widgets"): "list_widgets",
    ("POST", "/v1/widgets"): "create_widget",
    ("GET", "/v1/categories/{category_id}"): "get_category",
    ("DELETE", "/v1/widgets/{widget_id}"): "delete_widget",
    ("POST", "/v1/widgets/{widget_id}/polish"): "polish_widget",
    ("POST", "/v1/widgets/polish"): "polish_widgets",
}


def test_a_new_route_is_named_from_its_method_and_path() -> None:
    assert {route: operation_id(*route) for route in NEW_ROUTES} == NEW_ROUTES


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/widgets/a/b"), ("GET", "/{x}")])
def test_a_path_of_no_known_shape_must_be_named(method: str, path: str) -> None:
    with pytest.raises(ValueError, match="add it to NAMED"):
        operation_id(method, path)
