"""Parts of a request an endpoint would otherwise ignore, refused with a 422 instead, so a
client never counts on a key or a filter that did nothing."""

from __future__ import annotations

import email.message
import json
import typing
from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

from api.errors import ApiProblem
from api.schemas import error_responses

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Methods that change something; none of them reads a query string.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MANY = (list, tuple, set, frozenset)
JSON_MEDIA_TYPE = "application/json"


def refuse_idempotency_header(hint: str) -> Any:
    """A dependency answering 422 when the request carries an ``Idempotency-Key`` header that
    the endpoint would ignore; ``hint`` says what to do instead."""

    async def refuse(
        header: Annotated[
            str | None, Header(alias=IDEMPOTENCY_HEADER, include_in_schema=False)
        ] = None,
    ) -> None:
        if header is not None:
            details = [
                {"field": f"header.{IDEMPOTENCY_HEADER}", "message": f"not accepted; {hint}"}
            ]
            message = f"this endpoint takes no {IDEMPOTENCY_HEADER} header; {hint}"
            raise ApiProblem(422, "validation_error", message, details)

    return Depends(refuse)


def _takes_many(annotation: Any) -> bool:
    """Whether a parameter typed ``annotation`` takes a list (``?tag=a&tag=b``)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is UnionType or origin is Annotated:
        return any(_takes_many(arg) for arg in typing.get_args(annotation))
    return origin in _MANY or annotation in _MANY


def _query_fields(dependant: Dependant) -> Iterator[tuple[str, bool]]:
    """(name, takes many) of every query parameter ``dependant`` and its dependencies read;
    a query-parameter model counts as its fields."""
    for field in dependant.query_params:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, info in model.model_fields.items():
                yield info.alias or name, _takes_many(info.annotation)
        else:
            yield field.alias, _takes_many(field.field_info.annotation)
    for dependency in dependant.dependencies:
        yield from _query_fields(dependency)


def accepted_query(request: Request) -> dict[str, bool]:
    """The query parameters the matched endpoint reads: name → whether it takes many values."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    return dict(_query_fields(dependant)) if isinstance(dependant, Dependant) else {}


def _problem(request: Request, fields: dict[str, str], summary: str) -> ApiProblem:
    details = [{"field": f"query.{name}", "message": why} for name, why in fields.items()]
    where = f"{request.method} {request.url.path}"
    return ApiProblem(422, "validation_error", f"{where} {summary}", details)


async def refuse_unknown_query(request: Request) -> None:
    """422 for a query parameter the endpoint does not read (``GET /v1/jobs?stauts=dead`` would
    otherwise list every job), and for one given twice where it takes one value. A write takes
    none: ``POST /v1/dead-letters/replay?type=x`` with ``{}`` would replay every dead letter."""
    if not request.url.query:
        return
    names = sorted(set(request.query_params))
    if not names and request.method in WRITES:
        names = [request.url.query]  # "?&": a write takes no query string at all
    accepted = accepted_query(request)
    unknown = [name for name in names if name not in accepted]
    if unknown:
        quoted = ", ".join(repr(name) for name in unknown)
        if not accepted:
            hint = "send options in the JSON body" if request.method in WRITES else "send none"
            summary = f"takes no query parameters ({quoted}); {hint}"
        else:
            summary = f"takes no query parameter {quoted}; it accepts {', '.join(sorted(accepted))}"
        message = f"unknown parameter; accepted: {', '.join(sorted(accepted)) or 'none'}"
        raise _problem(request, dict.fromkeys(unknown, message), summary)
    repeated = {
        name: f"given {count} times; it takes one value"
        for name in names
        if not accepted[name] and (count := len(request.query_params.getlist(name))) > 1
    }
    if repeated:
        summary = f"takes one value of {', '.join(repeated)}; send each parameter once"
        raise _problem(request, repeated, summary)


class _DuplicateKey(ValueError):
    """A JSON object names a key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return document


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of ``content_type`` as JSON (``application/json`` or
    ``application/*+json``, parameters aside)."""
    if not content_type:
        return False
    header = email.message.Message()
    header["content-type"] = content_type
    subtype = header.get_content_subtype()
    return header.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def refuse_ambiguous_body(request: Request) -> None:
    """415 for a body sent as anything but JSON (FastAPI would report a missing object), and
    422 for a JSON object that names a key twice (parsers disagree on which one counts, and
    every one but the last would be silently ignored)."""
    if getattr(request.scope.get("route"), "body_field", None) is None:
        return
    body = await request.body()  # read (and kept) by FastAPI already
    if not body:
        return
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        got = f"Content-Type {content_type}" if content_type else "no Content-Type"
        message = f"the body must be JSON, sent with Content-Type: {JSON_MEDIA_TYPE} (got {got})"
        details = [{"field": "header.Content-Type", "message": f"must be {JSON_MEDIA_TYPE}"}]
        raise ApiProblem(415, "unsupported_media_type", message, details)
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except _DuplicateKey as duplicate:
        key = duplicate.args[0]
        message = f"invalid request: body: key {key!r} appears twice in one object; send it once"
        details = [{"field": "body", "message": f"duplicate key {key!r}"}]
        raise ApiProblem(422, "validation_error", message, details) from None
    except (ValueError, RecursionError):  # FastAPI has answered what its parser refuses
        return


def document_refusals(router: APIRouter) -> APIRouter:
    """``router`` with the answers of this module in its routes' OpenAPI responses, in the one
    error shape: 422 on every route, 415 on those that take a body (a route's own entry for a
    status stays)."""
    for route in router.routes:
        statuses = (415, 422) if getattr(route, "body_field", None) is not None else (422,)
        responses = getattr(route, "responses", None)
        if isinstance(responses, dict):
            for status, documented in error_responses(*statuses).items():
                responses.setdefault(status, documented)
    return router
