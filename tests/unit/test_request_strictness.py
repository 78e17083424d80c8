"""Every request body the API takes refuses coercion, field by field, like job payloads: a new
field that would turn ``"5"`` into 5 or ``true`` into 1 fails here."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError

from api import (
    alert_schemas,
    channel_schemas,
    notification_schemas,
    routing_schemas,
    schedule_schemas,
    schemas,
    subscription_schemas,
    template_schemas,
)
from api.app import create_app
from api.errors import install_error_handlers
from api.refusals import refuse_unknown_query
from tests.unit.test_jobtypes import COERCIBLE

MODELS: dict[str, type[BaseModel]] = {
    name: value
    for module in (
        schemas,
        schedule_schemas,
        template_schemas,
        channel_schemas,
        notification_schemas,
        subscription_schemas,
        alert_schemas,
        routing_schemas,
    )
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, BaseModel)
}


def _body_models() -> list[str]:
    """The names of the models the OpenAPI document lists as request bodies."""
    names = []
    for operations in create_app().openapi()["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody")
            if body is not None:
                schema = body["content"]["application/json"]["schema"]
                schema = schema.get("items", schema)  # a list of them (POST /api/v2/alerts)
                names.append(schema["$ref"].split("/")[-1])
    return sorted(set(names))


BODIES = _body_models()


def test_the_bodies_are_found() -> None:
    wanted = {"JobIn", "BatchIn", "ScheduleIn", "SchedulePatch", "ReplayIn", "NotificationIn"}
    assert wanted <= set(BODIES)


@pytest.mark.parametrize("name", BODIES)
def test_every_scalar_field_of_a_body_refuses_coercion(name: str) -> None:
    model = MODELS[name]
    for field, schema in model.model_json_schema().get("properties", {}).items():
        options: list[dict[str, Any]] = schema.get("anyOf", [schema])
        for kind in (o["type"] for o in options if o.get("type") in COERCIBLE):
            for value in (v for v in COERCIBLE[kind] if not isinstance(v, bytes)):  # not JSON
                with pytest.raises(ValidationError) as caught:
                    model.model_validate({field: value})
                locations = {e["loc"][:1] for e in caught.value.errors() if e["type"] != "missing"}
                assert (field,) in locations, f"{name}.{field} accepted {value!r}"


class _Filters(BaseModel):
    """Query parameters as a model (no ``extra="forbid"``: FastAPI would then refuse every
    parameter outside the model, ``limit`` below included)."""

    tag: list[str] = []
    kind: str | None = Field(default=None, alias="type")


def _tiny_app() -> FastAPI:
    """An app with a query-parameter model and a plain parameter, behind the one refusal."""
    app = FastAPI(dependencies=[Depends(refuse_unknown_query)])
    install_error_handlers(app)

    @app.get("/things")
    def things(filters: Annotated[_Filters, Query()], limit: int = 5) -> dict[str, Any]:
        return {"tag": filters.tag, "type": filters.kind, "limit": limit}

    return app


def test_the_query_refusal_reads_query_models_and_list_parameters() -> None:
    client = TestClient(_tiny_app())

    # a model's fields (by alias) are accepted, and a list parameter may repeat
    fine = client.get("/things?tag=a&tag=b&type=x&limit=2")
    assert fine.status_code == 200, fine.text
    assert fine.json() == {"tag": ["a", "b"], "type": "x", "limit": 2}
    # a scalar one may not, and an unknown one is named with the accepted ones
    twice = client.get("/things?limit=1&limit=2").json()["error"]
    assert twice["details"] == [
        {"field": "query.limit", "message": "given 2 times; it takes one value"}
    ]
    assert client.get("/things?&&").status_code == 200  # no parameter at all
    unknown = client.get("/things?kind=x").json()["error"]
    assert (
        unknown["message"]
        == "GET /things takes no query parameter 'kind'; it accepts limit, tag, type"
    )


def test_the_document_gives_every_error_the_one_shape() -> None:
    document = create_app().openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            # any route may refuse a query parameter; a route with a body, a non-JSON one
            expected = {"422", "415"} if "requestBody" in operation else {"422"}
            assert expected <= set(responses), f"{method} {path}"
            for status in expected:
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorResponse"), f"{method} {path} {status}"
