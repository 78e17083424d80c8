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
from schedules.errors import InvalidSchedule, ScheduleConflict, ScheduleNotFound
from tasks.alerts.errors import AlertRuleConflict, AlertRuleNotFound, InvalidAlertRule
from tasks.notifications.errors import (
    ChannelConflict,
    ChannelNotAllowed,
    ChannelNotFound,
    ChannelTestFailed,
    DeliveryNotFound,
    DeliveryStateConflict,
    InvalidChannel,
    InvalidNotification,
    InvalidSubscription,
    InvalidTemplate,
    RenderError,
    SecretsUnreadable,
    SubscriptionConflict,
    SubscriptionNotFound,
    TemplateConflict,
    TemplateNotFound,
)
from workers.errors import (
    BrokerUnavailable,
    IdempotencyConflict,
    InternalJobType,
    InvalidJob,
    JobNotFound,
    JobStateConflict,
    SealingUnavailable,
    StoreUnavailable,
    TaskyardError,
    UnknownJobType,
    bounded,
    bounded_details,
)

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying after a 503.
RETRY_AFTER_S = 5
#: The one table of platform errors to HTTP statuses (anything else is a 500).
_TASKYARD_STATUS: dict[type[TaskyardError], int] = {
    UnknownJobType: 422,
    InternalJobType: 403,
    InvalidJob: 422,
    InvalidSchedule: 422,
    JobNotFound: 404,
    ScheduleNotFound: 404,
    IdempotencyConflict: 409,
    JobStateConflict: 409,
    ScheduleConflict: 409,
    StoreUnavailable: 503,
    BrokerUnavailable: 503,
    InvalidTemplate: 422,
    RenderError: 422,
    TemplateNotFound: 404,
    TemplateConflict: 409,
    InvalidChannel: 422,
    ChannelNotFound: 404,
    ChannelConflict: 409,
    ChannelTestFailed: 502,
    SecretsUnreadable: 503,
    SealingUnavailable: 503,
    InvalidNotification: 422,
    ChannelNotAllowed: 403,
    DeliveryNotFound: 404,
    DeliveryStateConflict: 409,
    InvalidSubscription: 422,
    SubscriptionNotFound: 404,
    SubscriptionConflict: 409,
    InvalidAlertRule: 422,
    AlertRuleNotFound: 404,
    AlertRuleConflict: 409,
}
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
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of every error response, holding what it echoes of the request to
    :data:`workers.errors.ECHO_LIMIT` (a caller's value, a path of payload keys)."""
    return {
        "error": {"code": code, "message": bounded(message), "details": bounded_details(details)}
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error response in the one shape."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def too_large_response(limit: int) -> JSONResponse:
    """The 413 answer for a body over ``limit`` bytes."""
    error = PayloadTooLarge(limit)
    return error_response(413, "payload_too_large", str(error.detail), {"limit_bytes": limit})


def status_for(error: TaskyardError) -> int:
    """The HTTP status a platform error maps to (500 for one the API does not expect)."""
    for kind in type(error).__mro__:
        if kind in _TASKYARD_STATUS:
            return _TASKYARD_STATUS[kind]
    return 500


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
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


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
    return error_response(status, exc.code, exc.message, exc.details, headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = field_errors(exc.errors())
    first = f"{details[0]['field']}: {details[0]['message']}" if details else "invalid request"
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return error_response(422, "validation_error", f"invalid request: {first}{more}", details)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 400 and exc.__cause__ is not None:
        # FastAPI's answer to a body it cannot decode (e.g. not UTF-8): malformed JSON.
        details = [{"field": "body", "message": "malformed JSON: the body cannot be decoded"}]
        return error_response(422, "validation_error", "invalid request: malformed JSON", details)
    if status == 404:
        message = f"nothing at {request.url.path}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(status, _HTTP_CODES.get(status, "http_error"), message, None, exc.headers)


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
    return error_response(500, "internal_error", message, {"correlation_id": cid}, headers)


def install_error_handlers(app: FastAPI) -> None:
    """Render every failure, expected or not, in the one error shape."""
    app.add_exception_handler(ApiProblem, _problem)
    app.add_exception_handler(PayloadTooLarge, _too_large)
    app.add_exception_handler(TaskyardError, _taskyard)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
