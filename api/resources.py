"""What the routers of stored resources share: ids in the path and the changes of a PATCH."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from api.errors import ApiProblem


def path_id(raw: str, noun: str, code: str) -> uuid.UUID:
    """``raw`` as a UUID; else a 404 ``code`` (no such ``noun`` can exist)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        message = f"no {noun} with id {raw!r}; {noun} ids are UUIDs"
        raise ApiProblem(404, code, message) from None


class PatchBody(BaseModel):
    """A PATCH body: unknown fields are refused, absent ones stay."""

    model_config = ConfigDict(extra="forbid")

    def changes(self) -> dict[str, Any]:
        """The fields sent."""
        return self.model_dump(exclude_unset=True)


def same_named(record: object, schema: type[BaseModel], *computed: str) -> dict[str, Any]:
    """The attributes of ``record`` named like the fields of ``schema``, but the ``computed``
    ones (which the caller adds), so a response shows the columns it declares."""
    return {name: getattr(record, name) for name in schema.model_fields if name not in computed}


def non_null(changes: dict[str, Any], not_null: Iterable[str]) -> dict[str, Any]:
    """``changes``, after a 422 for any field of ``not_null`` sent as ``null``."""
    for name in not_null:
        if name in changes and changes[name] is None:
            details = [{"field": f"body.{name}", "message": "must not be null"}]
            raise ApiProblem(422, "validation_error", f"body.{name} must not be null", details)
    return changes
