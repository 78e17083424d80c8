"""The PromQL source: an instant query against a Prometheus HTTP API, at the slot's time.

Saved: ``spec.url`` (else ``TASKYARD_PROMETHEUS_URL``) must be an http(s) URL without
credentials whose host outbound requests may reach (the notifications' rules,
``TASKYARD_OUTBOUND_ALLOW``), and the server itself must accept ``spec.query`` as an instant
query returning a vector or a scalar. Run: ``GET <url>/api/v1/query?query=...&time=<slot>``
with the server's own ``timeout`` and a client timeout just past it, pinned to a checked
address; a server that did not answer is not asked again by this process for a tick, so
the other rules on it fail at once instead of each waiting out the timeout. Each sample of
the result is a row: its series' labels (without ``__name__``, as Prometheus's own alerts
drop it) and its value. Anything else is :class:`EvaluationFailed`.
"""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tasks.alerts import TICK_S
from tasks.alerts.errors import EvaluationFailed, InvalidAlertRule, invalid
from tasks.alerts.sql import MAX_ROWS
from tasks.notifications.errors import OutboundRefused
from tasks.notifications.outbound import TargetUnresolved
from tasks.notifications.senders import pinned_request
from workers.settings import get_settings

MAX_QUERY = 10_000
#: The longest a rule may let the server take (its evaluation waits that long at most).
MAX_TIMEOUT_S = 30.0
#: What the client waits past the server's own timeout for the answer to arrive.
GRACE_S = 1.0
QUERY_PATH = "/api/v1/query"
USER_AGENT = "Taskyard-Alerts/1"
#: The result types an instant query may answer with that make rows.
INSTANT = ("vector", "scalar")
Rows = list[tuple[dict[str, str], float]]


class PromqlSpec(BaseModel):
    """``promql``: an instant query; each series of its answer is a row (its labels without
    ``__name__``, its value)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    query: str = Field(min_length=1, max_length=MAX_QUERY)
    url: str | None = Field(default=None, max_length=2_000, description="Default: the setting.")
    timeout_s: float = Field(default=5.0, gt=0, le=MAX_TIMEOUT_S)


def server_url(url: str | None) -> str:
    """The server a rule reads: its own ``url``, else the configured one, checked for shape
    (:class:`InvalidAlertRule` naming ``spec.url``)."""
    chosen = url if url is not None else get_settings().prometheus_url
    if chosen is None:
        raise invalid("spec.url", "name the Prometheus server, or set TASKYARD_PROMETHEUS_URL")
    parts = urlsplit(chosen)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("spec.url", "must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise invalid("spec.url", "must not hold credentials")
    if parts.query or parts.fragment:
        raise invalid("spec.url", "must name the server's base URL, without ? or #")
    return chosen.rstrip("/")


def _ask(url: str, query: str, at: datetime, timeout_s: float) -> httpx.Response:
    params = {"query": query, "time": f"{at.timestamp():.3f}", "timeout": f"{timeout_s:g}s"}
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    return pinned_request(
        "GET", url + QUERY_PATH, params=params, headers=headers, timeout=timeout_s + GRACE_S
    )


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise EvaluationFailed(f"the server answered {response.status_code} without an API body")
    return body


def _problem(body: dict[str, Any]) -> str:
    kind = str(body.get("errorType", "error"))[:50]
    text = " ".join(str(body.get("error", "")).split())[:500]
    return f"{kind}: {text}"


def check_spec(spec: PromqlSpec) -> None:
    """Ask the server whether ``query`` runs as an instant query returning a vector or a
    scalar; :class:`InvalidAlertRule` naming ``spec.query`` (refused) or ``spec.url`` (the
    server cannot be asked)."""
    base = server_url(spec.url)
    try:
        response = _ask(base, spec.query, datetime.now(UTC), spec.timeout_s)
        body = _body(response)
    except (OutboundRefused, TargetUnresolved) as error:
        raise invalid("spec.url", error.message) from None
    except (httpx.HTTPError, EvaluationFailed) as error:
        reason = error.message if isinstance(error, EvaluationFailed) else type(error).__name__
        raise invalid("spec.url", f"could not check the query with {base}: {reason}") from None
    if body.get("errorType") == "bad_data":
        raise invalid("spec.query", f"the server refused it: {_problem(body)}")
    if body.get("status") != "success":
        return  # an execution error (a timeout, too many samples) depends on the data
    kind = body.get("data", {}).get("resultType")
    if kind not in INSTANT:
        raise invalid("spec.query", f"returns a {kind}; give a query returning a vector or scalar")


def _number(text: Any, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise EvaluationFailed(f"{where}: {str(text)[:50]!r} is not a number") from None
    if not math.isfinite(value):
        raise EvaluationFailed(f"{where}: the value is {text}, not a finite number")
    return value


def _sample(item: Any, position: int) -> tuple[dict[str, str], float]:
    if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
        raise EvaluationFailed(f"series {position}: not a sample")
    pair = item.get("value")
    if not isinstance(pair, list) or len(pair) != 2:
        raise EvaluationFailed(f"series {position}: no [time, value] pair")
    labels = {str(k): str(v) for k, v in item["metric"].items() if k != "__name__"}
    return labels, _number(pair[1], f"series {position}")


def rows_of(body: Any) -> Rows:
    """The rows of an instant-query answer (the API's JSON body): a vector's samples, or a
    scalar as one row without labels; :class:`EvaluationFailed` for anything else."""
    if not isinstance(body, dict):
        raise EvaluationFailed("the answer is not a JSON object")
    if body.get("status") != "success":
        raise EvaluationFailed(f"the query failed: {_problem(body)}")
    data = body.get("data")
    kind = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [({}, _number(result[1], "the scalar"))]
    if kind != "vector" or not isinstance(result, list):
        raise EvaluationFailed(f"the query returned a {kind}, not a vector or scalar")
    if len(result) > MAX_ROWS:
        raise EvaluationFailed(f"the query returned more than {MAX_ROWS} series")
    return [_sample(item, position) for position, item in enumerate(result, start=1)]


#: Servers that just failed to answer in this process: base URL → (until when, why). Another
#: rule on the same server fails at once with the same error until then (one tick), so a
#: server that hangs costs a tick one timeout, not one per rule.
_FAILING: dict[str, tuple[float, str]] = {}
os.register_at_fork(after_in_child=_FAILING.clear)


def _failed(base: str, reason: str) -> EvaluationFailed:
    _FAILING[base] = (time.monotonic() + TICK_S, reason)
    return EvaluationFailed(reason)


def read(spec: PromqlSpec, slot_at: datetime) -> Rows:
    """The rows the query gives at ``slot_at``; a server that is down, slow, refused by the
    outbound rules, or answers with an error is :class:`EvaluationFailed`."""
    try:
        base = server_url(spec.url)
    except InvalidAlertRule as error:
        raise EvaluationFailed(error.message) from None
    until, reason = _FAILING.get(base, (0.0, ""))
    if time.monotonic() < until:
        raise EvaluationFailed(f"{reason} (a moment ago; not asked again before the next tick)")
    try:
        response = _ask(base, spec.query, slot_at, spec.timeout_s)
    except (OutboundRefused, TargetUnresolved) as error:
        raise EvaluationFailed(error.message) from None
    except httpx.TimeoutException:
        raise _failed(base, f"{base} did not answer within {spec.timeout_s:g} s") from None
    except httpx.HTTPError as error:
        raise _failed(base, f"could not query {base}: {type(error).__name__}") from None
    _FAILING.pop(base, None)
    return rows_of(_body(response))
