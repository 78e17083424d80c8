"""Every request body the API takes refuses coercion, field by field, like job payloads: a new
field that would turn ``"5"`` into 5 or ``true`` into 1 fails here."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api import channel_schemas, schedule_schemas, schemas
from api.app import create_app
from tests.unit.test_jobtypes import COERCIBLE

MODELS: dict[str, type[BaseModel]] = {
    name: value
    for module in (schemas, schedule_schemas, channel_schemas)
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
                names.append(body["content"]["application/json"]["schema"]["$ref"].split("/")[-1])
    return sorted(set(names))


BODIES = _body_models()


def test_the_bodies_are_found() -> None:
    assert {"JobIn", "BatchIn", "ScheduleIn", "SchedulePatch", "ReplayIn"} <= set(BODIES)


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
