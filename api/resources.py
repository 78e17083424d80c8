"""What the routers of stored resources share: ids in the path, the body of a PATCH, the JSON
form of a record and a page of them."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from api.errors import ApiProblem

Item = TypeVar("Item", bound=BaseModel)


def path_id(raw: str, noun: str, code: str) -> uuid.UUID:
    """``raw`` as a UUID; else a 404 ``code`` (no such ``noun`` can exist)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        message = f"no {noun} with id {raw!r}; {noun} ids are UUIDs"
        raise ApiProblem(404, code, message) from None


class PatchBody(BaseModel):
    """A PATCH body: unknown fields are refused, absent ones stay, and the fields named in
    ``not_null`` may be sent but not as ``null``."""

    model_config = ConfigDict(extra="forbid")
    not_null: ClassVar[tuple[str, ...]] = ()

    def changes(self) -> dict[str, Any]:
        """The fields sent, after a 422 for any field of ``not_null`` sent as ``null``."""
        sent = self.model_dump(exclude_unset=True)
        for name in self.not_null:
            if name in sent and sent[name] is None:
                details = [{"field": f"body.{name}", "message": "must not be null"}]
                raise ApiProblem(422, "validation_error", f"body.{name} must not be null", details)
        return sent


def same_named(record: object, schema: type[BaseModel], *computed: str) -> dict[str, Any]:
    """The attributes of ``record`` named like the fields of ``schema``, but the ``computed``
    ones (which the caller adds), so a response shows the columns it declares."""
    return {name: getattr(record, name) for name in schema.model_fields if name not in computed}


class RecordOut(BaseModel):
    """The JSON form of a stored record: each field is the record's attribute of that name (a
    model whose fields are computed says how in its own ``from_record``)."""

    @classmethod
    def from_record(cls, record: Any) -> Self:
        """The JSON form of ``record``."""
        return cls(**same_named(record, cls))

    @classmethod
    def with_computed(cls, record: Any, **computed: Any) -> Self:
        """The JSON form of ``record`` with the ``computed`` fields given (the rest read from
        its attributes), for a model's own ``from_record``."""
        return cls(**same_named(record, cls, *computed), **computed)


class Page(BaseModel, Generic[Item]):
    """A page of records, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[Item]
    next_cursor: str | None
