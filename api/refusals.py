"""Parts of a request an endpoint would otherwise ignore, refused with a 422 instead, so a
client never counts on a key or a filter that did nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from api.errors import ApiProblem

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Methods that change something; none of them reads a query string.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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


async def refuse_query_on_writes(request: Request) -> None:
    """422 for a query string on a write: ``POST /v1/dead-letters/replay?type=x`` with ``{}``
    would otherwise replay every dead letter. Filters and options go in the JSON body."""
    if request.method in WRITES and request.url.query:
        names = sorted(set(request.query_params)) or [request.url.query]
        details = [{"field": f"query.{name}", "message": "not accepted"} for name in names]
        message = (
            f"{request.method} {request.url.path} takes no query parameters "
            f"({', '.join(names)}); send options in the JSON body"
        )
        raise ApiProblem(422, "validation_error", message, details)
