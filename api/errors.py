"""One JSON error shape, ``{"error": {"code", "message", "details"}}``, for every failure."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.correlation import HEADER as CORRELATION_HEADER
from api.correlation import from_scope
from workers.errors import TaskyardError, answer_for, bounded, bounded_details

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying after a 503.
RETRY_AFTER_S = 5
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class PayloadTooLarge(HTTPException):
    """The request body is over the limit (an HTTPException, so FastAPI re-raises it as is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")
        self.limit = limit


class ApiProblem(Exception):
    """An error the API answers directly with ``status`` and a stable ``code``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers

    def response(self) -> JSONResponse:
        """The error response in the one shape."""
        body = error_body(self.code, self.message, self.details)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of every error response, holding what it echoes of the request to
    :data:`workers.errors.ECHO_LIMIT` (a caller's value, a path of payload keys)."""
    return {
        "error": {"code": code, "message": bounded(message), "details": bounded_details(details)}
    }


def too_large_response(limit: int) -> JSONResponse:
    """The 413 answer for a body over ``limit`` bytes."""
    error = PayloadTooLarge(limit)
    details = {"limit_bytes": limit}
    return ApiProblem(413, "payload_too_large", str(error.detail), details).response()


def status_for(error: TaskyardError) -> int:
    """The HTTP status a platform error maps to, from the one table of error answers
    (:data:`workers.errors.ANSWERS`; 500 for one the API does not expect)."""
    return answer_for(error).http_status


def field_errors(errors: Any) -> list[dict[str, str]]:
    """Pydantic/FastAPI error items as ``[{"field": "body.priority", "message": ...}]``."""
    items = []
    for error in errors:
        field = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            field = "body"
            message = f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot parse')}"
        items.append({"field": field or "request", "message": message})
    return items


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return exc.response()


async def _too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayloadTooLarge)
    return too_large_response(exc.limit)


async def _taskyard(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TaskyardError)
    status = status_for(exc)
    if status == 500:
        return await _unexpected(request, exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    if status == 503:
        log.warning("%s", exc.message, extra={"action": "api.unavailable", "code": exc.code})
    return ApiProblem(status, exc.code, exc.message, exc.details, headers).response()


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = field_errors(exc.errors())
    first = f"{details[0]['field']}: {details[0]['message']}" if details else "invalid request"
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    message = f"invalid request: {first}{more}"
    return ApiProblem(422, "validation_error", message, details).response()


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 400 and exc.__cause__ is not None:
        # FastAPI's answer to a body it cannot decode (e.g. not UTF-8): malformed JSON.
        details = [{"field": "body", "message": "malformed JSON: the body cannot be decoded"}]
        message = "invalid request: malformed JSON"
        return ApiProblem(422, "validation_error", message, details).response()
    if status == 404:
        message = f"nothing at {request.url.path}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    code = _HTTP_CODES.get(status, "http_error")
    return ApiProblem(status, code, message, headers=exc.headers).response()


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    cid = from_scope(request.scope)
    log.error(
        "unexpected error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"action": "api.internal_error", "correlation_id": cid},
    )
    message = "an unexpected error occurred; it has been logged"
    headers = {CORRELATION_HEADER: cid} if cid else None
    details = {"correlation_id": cid}
    return ApiProblem(500, "internal_error", message, details, headers).response()


def install_error_handlers(app: FastAPI) -> None:
    """Render every failure, expected or not, in the one error shape."""
    app.add_exception_handler(ApiProblem, _problem)
    app.add_exception_handler(PayloadTooLarge, _too_large)
    app.add_exception_handler(TaskyardError, _taskyard)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
