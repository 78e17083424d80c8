"""The routes of a named resource of the store, made one way for every resource: list a page at
a time, create (201; 409 when the name is taken), get (404 for an unknown id), edit (PATCH: the
fields sent, checked as a whole) and remove (204). A resource's router names the store's
functions and says, in its own words, what each route does; anything else it adds as a plain
route. ``docs/architecture.md`` ("Resource routes") shows one."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from api.auth import KeyCheck, admin
from api.listing import Cursor, Limit, Position, listed
from api.resources import Page, PatchBody, RecordOut, path_id
from api.schemas import error_responses
from workers.errors import NotFound

R = TypeVar("R")  # the store's record
B = TypeVar("B", bound=BaseModel)  # a request body

#: The errors every route may answer besides its own: no key, or a key without the scope (and
#: 503 when the store is out of reach).
_KEY_ERRORS = (401, 403)
#: A created record is a 201, a removed one a 204.
_STATUS = {"POST": 201, "DELETE": 204}


@dataclass(frozen=True)
class ResourceRoutes:
    """Adds the routes of one resource to ``router``: ``name`` makes the path parameter
    (``{name}_id``) and the operations' names (``list_{name}s``, ``get_{name}``...), ``out``
    shows a record, ``read`` checks the key of a list or a get and ``write`` of the others
    (``admin`` unless said), and ``noun`` names the resource in messages (``name`` unless
    said)."""

    router: APIRouter
    name: str
    not_found: type[NotFound]
    out: type[RecordOut]
    read: KeyCheck = admin
    write: KeyCheck = admin
    noun: str = ""

    @property
    def _id_name(self) -> str:
        return f"{self.name}_id"

    def id(self, raw: str) -> uuid.UUID:
        """The record's id in the path, or a 404 (no record has an id that is not a UUID)."""
        return path_id(raw, self.noun or self.name.replace("_", " "), self.not_found.code)

    def add_list(
        self,
        page: type[Page[Any]],
        fetch: Callable[[Position | None, int], Sequence[R]],
        summary: str,
        doc: str,
    ) -> None:
        """``GET ""``: the records ``fetch`` finds, newest first, a page at a time."""

        def endpoint(limit: int, cursor: str | None) -> Page[Any]:
            return listed(page, self.out.from_record, fetch, cursor, limit)

        query = [_parameter("limit", Limit, 50), _parameter("cursor", Cursor, None)]
        self._add("GET", "", f"list_{self.name}s", endpoint, query, page, summary, doc, 422)

    def add_create(
        self, body: type[B], create: Callable[[B], R], summary: str, doc: str, *errors: int
    ) -> None:
        """``POST ""``: 201 with the record ``create`` makes of the body (409: a name taken)."""

        def endpoint(body: B) -> RecordOut:
            return self.out.from_record(create(body))

        name, params = f"create_{self.name}", [_parameter("body", body)]
        self._add("POST", "", name, endpoint, params, self.out, summary, doc, 409, 422, *errors)

    def add_get(self, get: Callable[[uuid.UUID], R], summary: str, doc: str) -> None:
        """``GET /{id}``: the record, or 404."""

        def endpoint(**given: str) -> RecordOut:
            return self.out.from_record(get(self.id(given[self._id_name])))

        params = [_parameter(self._id_name, str)]
        self._add("GET", self._path, f"get_{self.name}", endpoint, params, self.out, summary, doc)

    def add_update(
        self,
        body: type[PatchBody],
        update: Callable[[uuid.UUID, dict[str, Any]], R],
        summary: str,
        doc: str,
        *errors: int,
    ) -> None:
        """``PATCH /{id}``: ``update`` makes the changes sent (:meth:`PatchBody.changes`)."""

        def endpoint(body: PatchBody, **given: str) -> RecordOut:
            changes = body.changes()  # a field sent as null is a 422 before an unknown id's 404
            return self.out.from_record(update(self.id(given[self._id_name]), changes))

        params = [_parameter(self._id_name, str), _parameter("body", body)]
        name = f"update_{self.name}"
        self._add("PATCH", self._path, name, endpoint, params, self.out, summary, doc, 422, *errors)

    def add_delete(
        self, delete: Callable[[uuid.UUID], None], summary: str, doc: str, *errors: int
    ) -> None:
        """``DELETE /{id}``: 204 once ``delete`` removed the record."""

        def endpoint(**given: str) -> Response:
            delete(self.id(given[self._id_name]))
            return Response(status_code=204)

        name, params = f"delete_{self.name}", [_parameter(self._id_name, str)]
        self._add("DELETE", self._path, name, endpoint, params, None, summary, doc, *errors)

    @property
    def _path(self) -> str:
        return f"/{{{self._id_name}}}"

    def _add(
        self,
        method: str,
        path: str,
        name: str,
        endpoint: Callable[..., Any],
        parameters: list[inspect.Parameter],
        returns: Any,
        summary: str,
        doc: str,
        *errors: int,
    ) -> None:
        """Route ``method path`` to ``endpoint``, which FastAPI reads as taking ``parameters``
        and answering ``returns`` (the resource's own models, which the shared function cannot
        name), described by ``doc`` as by any docstring."""
        endpoint.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
        endpoint.__doc__ = doc
        if path:  # one record: an id that names none is a 404
            errors = (404, *errors)
        self.router.add_api_route(
            path,
            endpoint,
            methods=[method],
            name=name,
            status_code=_STATUS.get(method, 200),
            summary=summary,
            response_model=returns,
            responses=error_responses(*sorted({*_KEY_ERRORS, *errors, 503})),
            dependencies=[Depends(self.read if method == "GET" else self.write)],
        )


def _parameter(
    name: str, annotation: Any, default: Any = inspect.Parameter.empty
) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default
    )
