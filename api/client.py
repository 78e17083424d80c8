"""A small HTTP client for the producer API (httpx only: importing it never loads FastAPI)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

import httpx

from workers.errors import TaskyardError

#: Statuses after which a job never changes again.
FINISHED = frozenset({"succeeded", "failed", "dead", "cancelled"})
CORRELATION_HEADER = "X-Correlation-ID"


class JobOptions(TypedDict, total=False):
    """What :meth:`Client.submit` and :meth:`Client.enqueue` take besides the type and payload."""

    queue: str | None
    priority: int | None
    delay_s: float | None
    run_at: datetime | str | None
    idempotency_key: str | None
    unique_key: str | None
    unique_for_s: int | None
    correlation_id: str | None


class ApiError(TaskyardError):
    """The API answered with an error (``status`` 0 when it could not be reached at all)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, details)
        self.status = status
        self.code = code

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no response"
        return f"{self.code}: {self.message} ({where})"


class WaitTimeout(TaskyardError):
    """A job did not finish within the time :meth:`Client.wait` was given."""

    code = "wait_timeout"

    def __init__(self, message: str, job: dict[str, Any]) -> None:
        super().__init__(message, {"job": job})
        self.job = job


@dataclass(frozen=True)
class Submission:
    """The job an enqueue resolved to, and whether this request created it (``False`` when an
    idempotency or unique key returned an existing job)."""

    job: dict[str, Any]
    created: bool


def _wire(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the ``None`` ones, datetimes as RFC 3339 strings."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in values.items()
        if value is not None
    }


def _error_from(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, error["code"], error["message"], error["details"])
    except (ValueError, KeyError, TypeError):
        text = response.text[:200] or response.reason_phrase
        return ApiError(response.status_code, "http_error", text)


class Client:
    """``with Client(url, key) as api: job = api.wait(api.enqueue("diag.noop")["id"])``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        correlation_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        if correlation_id is not None:
            headers[CORRELATION_HEADER] = correlation_id
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ApiError(0, "unreachable", f"cannot reach the API: {error}") from error
        if response.is_error:
            raise _error_from(response)
        return response

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def submit(
        self, type: str, payload: dict[str, Any] | None = None, **options: Unpack[JobOptions]
    ) -> Submission:
        """Enqueue one job, or get back the job its idempotency or unique key names already.

        ``run_at`` needs a time zone (an aware datetime, or an RFC 3339 string)."""
        if unknown := set(options) - JobOptions.__optional_keys__:  # as a plain signature would
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(unknown))}")
        correlation_id = options.pop("correlation_id", None)
        body = {"type": type, "payload": payload or {}, **_wire(dict(options))}
        headers = {CORRELATION_HEADER: correlation_id} if correlation_id else None
        response = self._send("POST", "/v1/jobs", json=body, headers=headers)
        return Submission(response.json(), created=response.status_code == 202)

    def enqueue(
        self, type: str, payload: dict[str, Any] | None = None, **options: Unpack[JobOptions]
    ) -> dict[str, Any]:
        """Enqueue one job; returns its record (``queued``, or ``scheduled`` when delayed).

        Use :meth:`submit` to learn whether a key returned an existing job instead."""
        return self.submit(type, payload, **options).job

    def enqueue_batch(
        self, jobs: list[dict[str, Any]], *, correlation_id: str | None = None
    ) -> dict[str, Any]:
        """Enqueue up to 1000 jobs (dicts shaped like :meth:`enqueue`'s arguments); an item's
        ``idempotency_key`` deduplicates that item (a batch as a whole takes no key)."""
        headers = {CORRELATION_HEADER: correlation_id} if correlation_id else None
        result: dict[str, Any] = self._call(
            "POST", "/v1/jobs/batch", json={"jobs": jobs}, headers=headers
        )
        return result

    def get_job(self, job_id: str) -> dict[str, Any]:
        """The job's current record."""
        result: dict[str, Any] = self._call("GET", f"/v1/jobs/{job_id}")
        return result

    def list_jobs(self, **filters: Any) -> dict[str, Any]:
        """A page of jobs: filters ``status``, ``type``, ``queue``, ``limit``, ``cursor``."""
        result: dict[str, Any] = self._call("GET", "/v1/jobs", params=_wire(filters))
        return result

    def iter_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every job matching ``filters``, newest first, fetching page after page."""
        cursor = filters.pop("cursor", None)
        while True:
            page = self.list_jobs(**filters, cursor=cursor)
            yield from page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job: ``{"job": record, "final": bool}``; ``final`` is ``False`` when a
        running job was asked to stop (it becomes ``cancelled`` when it does)."""
        result: dict[str, Any] = self._call("POST", f"/v1/jobs/{job_id}/cancel")
        return result

    def replay(self, job_id: str) -> dict[str, Any]:
        """Enqueue a dead, failed or cancelled job again; the new job's record (``replay_of``
        names the original). Every call enqueues another job."""
        result: dict[str, Any] = self._call("POST", f"/v1/jobs/{job_id}/replay")
        return result

    #: Deprecated alias of :meth:`replay`, the name before "replay" became the one word for it.
    retry = replay

    def dead_letters(self, **filters: Any) -> dict[str, Any]:
        """A page of dead jobs: filters ``type``, ``queue``, ``since``, ``until`` (datetimes or
        RFC 3339 strings, on the time of death), ``replayed``, ``limit``, ``cursor``."""
        result: dict[str, Any] = self._call("GET", "/v1/dead-letters", params=_wire(filters))
        return result

    def replay_dead_letters(self, **filters: Any) -> dict[str, Any]:
        """Replay dead letters not replayed yet (needs ``admin``): filters ``type``, ``queue``,
        ``since``, ``until``, ``limit`` (default 1000). ``{"replayed", "jobs", "errors"}``."""
        result: dict[str, Any] = self._call("POST", "/v1/dead-letters/replay", json=_wire(filters))
        return result

    def queues(self) -> list[dict[str, Any]]:
        """Depth of every queue, per public priority."""
        result: list[dict[str, Any]] = self._call("GET", "/v1/queues")["queues"]
        return result

    def wait(self, job_id: str, *, timeout: float = 30.0, interval: float = 0.1) -> dict[str, Any]:
        """Poll until the job is finished (succeeded, failed, dead or cancelled); its record."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job["status"] in FINISHED:
                return job
            if time.monotonic() >= deadline:
                message = (
                    f"job {job_id} has not finished after {timeout} s (status {job['status']})"
                )
                raise WaitTimeout(message, job)
            time.sleep(interval)
