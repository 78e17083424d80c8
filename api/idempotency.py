"""Idempotency keys where a request takes one (``POST /v1/jobs``, ``POST /v1/notifications``):
in the body or the ``Idempotency-Key`` header, which must then agree, and the header that
marks an answer resolved to what an earlier request made."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

from api.errors import ApiProblem
from api.refusals import IDEMPOTENCY_HEADER
from api.schemas import MAX_KEY

#: Set (to ``true``) when an idempotency or unique key resolved the request to what exists.
DEDUPLICATED_HEADER = "Taskyard-Deduplicated"
IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=MAX_KEY,
        description="The same as `idempotency_key` in the body (which must then agree).",
    ),
]


def idempotency_key(in_body: str | None, header: str | None) -> str | None:
    """The request's idempotency key, from the body or the header (422 if they disagree)."""
    if in_body is not None and header is not None and in_body != header:
        details = [{"field": f"header.{IDEMPOTENCY_HEADER}", "message": "differs from the body's"}]
        message = (
            f"the {IDEMPOTENCY_HEADER} header and body.idempotency_key differ; send one of them"
        )
        raise ApiProblem(422, "validation_error", message, details)
    return in_body or header


def deduplicated(model: type[Any], description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of the 200 a repeated request gets, with its header."""
    header = {DEDUPLICATED_HEADER: {"schema": {"type": "string", "enum": ["true"]}}}
    return {200: {"model": model, "description": description, "headers": header}}
