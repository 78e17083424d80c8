"""The routes of a resource of the store, made one way for every resource: list a page at a
time, create (201; 409 when the name is taken), get (404 for an unknown id), edit (PATCH: the
fields sent, checked as a whole), remove (204) and act on one record (``POST /{id}/replay``:
202). A resource's router names the store's functions and says, in its own words, what each
route does; ``docs/architecture.md`` ("Resource routes") shows one."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from api.auth import KeyCheck, admin
from api.listing import Cursor, Limit, Position, listed
from api.resources import Page, PatchBody, RecordOut, path_id
from api.schemas import error_responses
from workers.errors import NotFound
from workers.store.models import ApiKey

R = TypeVar("R")  # the store's record
B = TypeVar("B", bound=BaseModel)  # a request body
Endpoint = Callable[..., Any]

#: What every route may answer besides its own errors: no key or a key without the scope, and
#: the store out of reach.
_ALWAYS = (401, 403, 503)
_NO_DEFAULT = inspect.Parameter.empty


@dataclass(frozen=True)
class ResourceRoutes:
    """Adds the routes of one resource to ``router``. ``name`` makes the path parameter
    (``{name}_id``) and the operations' names (``list_{name}s``, ``get_{name}``...); ``out``
    shows a record; ``read`` checks the key of a list or a get, ``write`` of anything else
    (both ``admin`` unless said); ``noun`` names the resource in messages (``name`` unless
    said)."""

    router: APIRouter
    name: str
    not_found: type[NotFound]
    out: type[RecordOut]
    read: KeyCheck = admin
    write: KeyCheck = admin
    noun: str = ""

    def id(self, raw: str) -> uuid.UUID:
        """The record's id in the path, or a 404 (no record has an id that is not a UUID)."""
        return path_id(raw, self.noun or self.name.replace("_", " "), self.not_found.code)

    def add_list(
        self,
        summary: str,
        doc: str,
        page: type[Page[Any]],
        fetch: Callable[[Position | None, int], Sequence[R]],
    ) -> None:
        """``GET ""``: the records ``fetch`` finds, newest first, a page at a time."""

        def endpoint(limit: int, cursor: str | None, **_: Any) -> Page[Any]:
            return listed(page, self.out.from_record, fetch, cursor, limit)

        query = [_parameter("limit", Limit, 50), _parameter("cursor", Cursor, None)]
        self._add("GET", 200, "", f"list_{self.name}s", endpoint, query, page, summary, doc, 422)

    def add_create(
        self,
        summary: str,
        doc: str,
        body: type[B],
        create: Callable[[B], R],
        *errors: int,
        write: KeyCheck | None = None,
        vet: Callable[[ApiKey, B], object] | None = None,
    ) -> None:
        """``POST ""``: 201 with the record ``create`` makes of the body (409: a name taken).
        ``write`` checks the key instead of the resource's; ``vet`` refuses a body this key may
        not create (a 403 for a queue it may not use) before ``create`` is called."""

        def endpoint(body: B, key: ApiKey, **_: Any) -> RecordOut:
            if vet is not None:
                vet(key, body)
            return self.out.from_record(create(body))

        name, params, codes = f"create_{self.name}", [_parameter("body", body)], (409, 422)
        self._add("POST", 201, "", name, endpoint, params, self.out, summary, doc, *codes, *errors,
                  check=write)  # fmt: skip

    def add_get(
        self,
        summary: str,
        doc: str,
        get: Callable[[uuid.UUID], R],
        check: Callable[[ApiKey, R], R] | None = None,
        show: Callable[[ApiKey, R], RecordOut] | None = None,
    ) -> None:
        """``GET /{id}``: the record, or 404; ``check`` answers the record a key may see (else
        raises: a 404 for one it may not know of); ``show`` makes what that key sees of it
        (else ``out.from_record``, the same for every key)."""

        def endpoint(key: ApiKey, **given: Any) -> RecordOut:
            record = get(self._id_in(given))
            if check is not None:
                record = check(key, record)
            return self.out.from_record(record) if show is None else show(key, record)

        self._add("GET", 200, "/", f"get_{self.name}", endpoint, [], self.out, summary, doc)

    def add_update(
        self,
        summary: str,
        doc: str,
        body: type[PatchBody],
        update: Callable[[uuid.UUID, dict[str, Any]], R],
        *errors: int,
        write: KeyCheck | None = None,
        vet: Callable[[ApiKey, uuid.UUID, dict[str, Any]], object] | None = None,
    ) -> None:
        """``PATCH /{id}``: ``update`` makes the changes sent (:meth:`PatchBody.changes`);
        ``write`` and ``vet`` as for :meth:`add_create`, ``vet`` given the id and the changes."""

        def endpoint(body: PatchBody, key: ApiKey, **given: Any) -> RecordOut:
            changes = body.changes()  # a field sent as null is a 422 before an unknown id's 404
            record_id = self._id_in(given)
            if vet is not None:
                vet(key, record_id, changes)
            return self.out.from_record(update(record_id, changes))

        name, params = f"update_{self.name}", [_parameter("body", body)]
        self._add("PATCH", 200, "/", name, endpoint, params, self.out, summary, doc, 422, *errors,
                  check=write)  # fmt: skip

    def add_delete(
        self, summary: str, doc: str, delete: Callable[[uuid.UUID], None], *errors: int
    ) -> None:
        """``DELETE /{id}``: 204 once ``delete`` removed the record."""

        def endpoint(**given: Any) -> Response:
            delete(self._id_in(given))
            return Response(status_code=204)

        name = f"delete_{self.name}"
        self._add("DELETE", 204, "/", name, endpoint, [], None, summary, doc, *errors)

    def add_action(
        self,
        verb: str,
        summary: str,
        act: Callable[[uuid.UUID, ApiKey], BaseModel],
        *errors: int,
        refusal: Any = None,
    ) -> Endpoint:
        """``POST /{id}/{verb}``: 202 with what ``act`` did to the record for the request's key
        (``act`` checks that the key may); ``act``'s docstring describes the route and its
        return annotation the answer. ``refusal``: a dependency refusing part of the request
        after the key is checked. Returns the endpoint, for an alias path."""

        def endpoint(key: ApiKey, **given: Any) -> BaseModel:
            return act(self._id_in(given), key)

        params = [] if refusal is None else [_parameter("_", Annotated[None, refusal], None)]
        returns = inspect.signature(act, eval_str=True).return_annotation
        doc = inspect.getdoc(act) or ""
        return self._add(
            "POST", 202, f"/{verb}", verb, endpoint, params, returns, summary, doc, *errors
        )

    def _id_in(self, given: dict[str, Any]) -> uuid.UUID:
        return self.id(given[f"{self.name}_id"])

    def _add(
        self,
        method: str,
        status: int,
        below: str,
        name: str,
        endpoint: Endpoint,
        parameters: list[inspect.Parameter],
        returns: Any,
        summary: str,
        doc: str,
        *errors: int,
        check: KeyCheck | None = None,
    ) -> Endpoint:
        """Route ``method`` to ``endpoint`` (answering ``status``): on the collection when
        ``below`` is empty, else on one record (``/``) or below it (``/replay``). FastAPI reads
        the endpoint as taking the record's id, the key (checked by ``check``, else the
        resource's ``read`` or ``write``) and ``parameters`` and answering ``returns`` (the
        resource's own models, which a function shared by every resource cannot name), and
        describes it with ``doc`` as with any docstring."""
        check = check or (self.read if method == "GET" else self.write)
        key = _parameter("key", Annotated[ApiKey, Depends(check)])
        if below:  # one record: an id that names none is a 404
            errors = (404, *errors)
            parameters = [_parameter(f"{self.name}_id", str), key, *parameters]
        else:
            parameters = [key, *parameters]
        endpoint.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
        endpoint.__doc__, endpoint.__name__, endpoint.__qualname__ = doc, name, name
        self.router.add_api_route(
            f"/{{{self.name}_id}}{below.rstrip('/')}" if below else "",
            endpoint,
            methods=[method],
            status_code=status,
            summary=summary,
            response_model=returns,
            responses=error_responses(*sorted({*_ALWAYS, *errors})),
        )
        return endpoint


def _parameter(name: str, annotation: Any, default: Any = _NO_DEFAULT) -> inspect.Parameter:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Parameter(name, kind, annotation=annotation, default=default)
