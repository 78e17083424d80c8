"""The API's HTTP edges that touch no store or broker: error shape, body limit, correlation."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.correlation import accept_or_generate
from api.limits import declared_length
from api.routes import health
from tests.support.speedups import needs_speedups
from workers.settings import get_settings
from workers.speedups.collector import YOUNG_THRESHOLD

LIMIT = 1024


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FastAPI]:
    """An app with a small body limit; its store points at a scratch path, never the repo."""
    monkeypatch.setenv("TASKYARD_MAX_BODY_BYTES", str(LIMIT))
    monkeypatch.setenv("TASKYARD_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setenv("TASKYARD_LOG_FORMAT", "text")
    get_settings.cache_clear()
    yield create_app()
    get_settings.cache_clear()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    assert body["error"]["code"] == code
    return dict(body["error"])


def test_an_unknown_route_is_a_404_in_the_error_shape(client: TestClient) -> None:
    error = error_of(client.get("/v2/nothing"), 404, "not_found")

    assert "/v2/nothing" in error["message"]


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(client: TestClient) -> None:
    response = client.delete("/v1/jobs")

    error_of(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_an_unexpected_exception_is_a_generic_500(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a route that fails with a secret in its exception
    def boom() -> None:
        raise RuntimeError("password=hunter2 at postgresql://u:hunter2@db/x")

    app.add_api_route("/boom", boom)

    # When it is called
    response = client.get("/boom", headers={"X-Correlation-ID": "trace-500"})

    # Then the caller gets a generic 500 carrying the correlation id, and no detail
    error = error_of(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert error["details"] == {"correlation_id": "trace-500"}
    assert response.headers["X-Correlation-ID"] == "trace-500"
    # And the error is logged, with its traceback and the correlation id, for the operator
    logged = [r for r in caplog.records if r.levelname == "ERROR" and r.exc_info]
    assert [getattr(r, "correlation_id", None) for r in logged] == ["trace-500"]


def test_a_declared_oversized_body_is_refused_with_413(client: TestClient) -> None:
    response = client.post(
        "/v1/jobs",
        content=b"{" + b" " * LIMIT + b"}",
        headers={"Content-Type": "application/json", "X-Correlation-ID": "big"},
    )

    error = error_of(response, 413, "payload_too_large")
    assert error["details"] == {"limit_bytes": LIMIT}
    assert response.headers["X-Correlation-ID"] == "big"


@pytest.mark.parametrize(("raw", "length"), [(b"12", 12), (b"\xb2", None), (b"1\xb9", None)])
def test_only_ascii_digits_declare_a_length(raw: bytes, length: int | None) -> None:
    # Latin-1 "²" and "¹" pass str.isdigit, and int() refuses them
    assert declared_length({"type": "http", "headers": [(b"content-length", raw)]}) == length


def test_a_streamed_body_is_counted_and_refused_past_the_limit(client: TestClient) -> None:
    # Given a chunked body with no Content-Length that grows past the limit
    chunks = iter([b'{"type": "diag.noop", "payload": {"x": "', b"y" * LIMIT, b'"}}'])

    # When it is sent
    response = client.post("/v1/jobs", content=chunks, headers={"Content-Type": "application/json"})

    # Then it is refused once the bytes received pass the limit
    assert response.request.headers.get("transfer-encoding") == "chunked"
    error_of(response, 413, "payload_too_large")


def test_a_body_at_the_limit_gets_past_the_size_check(client: TestClient) -> None:
    body = b'{"type": "diag.noop"}'.ljust(LIMIT)

    response = client.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})

    error_of(response, 401, "unauthorized")


def test_malformed_json_is_422_before_anything_is_looked_up(client: TestClient) -> None:
    response = client.post(
        "/v1/jobs/batch", content=b'{"jobs": [', headers={"Content-Type": "application/json"}
    )

    error = error_of(response, 422, "validation_error")
    assert error["details"][0]["field"] == "body"
    assert error["details"][0]["message"].startswith("malformed JSON")


def test_the_correlation_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Correlation-ID": "abc-123"})
    generated = client.get("/healthz")
    unsafe = client.get("/healthz", headers={"X-Correlation-ID": "evil\tvalue" + "x" * 80})

    assert given.headers["X-Correlation-ID"] == "abc-123"
    assert len(generated.headers["X-Correlation-ID"]) == 32
    assert unsafe.headers["X-Correlation-ID"] != "evil\tvalue" + "x" * 80
    assert len(unsafe.headers["X-Correlation-ID"]) == 32


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("req-1", True),
        ("a" * 64, True),
        ("a.b:c_d-e", True),
        ("a" * 65, False),
        ("", False),
        ("has space", False),
        ("new\nline", False),
        (None, False),
    ],
)
def test_only_safe_correlation_ids_are_kept(value: str | None, kept: bool) -> None:
    cid = accept_or_generate(value)

    assert (cid == value) is kept
    assert 1 <= len(cid) <= 64


def test_healthz_needs_nothing(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_hanging_readiness_check_gives_up_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a check that hangs (a blackholed host) and a short check timeout
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.2)
    release = threading.Event()

    def hang() -> None:
        release.wait(10)

    # When it is run
    started = time.monotonic()
    try:
        state = anyio.run(health.run_check, "store", hang)
    finally:
        release.set()

    # Then the probe answers promptly, saying it timed out
    assert time.monotonic() - started < 2
    assert state == "timed out after 0.2 s"


def test_a_failing_readiness_check_names_only_the_error_type() -> None:
    def refuse() -> None:
        raise ConnectionRefusedError("postgresql://admin:hunter2@db:5432 refused")

    state = anyio.run(health.run_check, "store", refuse)

    assert state == "unreachable (ConnectionRefusedError)"


@needs_speedups
def test_the_api_collects_its_youngest_objects_less_often(app: FastAPI) -> None:
    # Given Python's default collector thresholds (put back afterwards)
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        # When the API is built, its process collects young objects far less often
        create_app()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    finally:
        gc.set_threshold(*before)


@needs_speedups
def test_the_started_api_leaves_its_startup_objects_out_of_full_collections() -> None:
    gc.unfreeze()
    try:
        # When the API has started
        with TestClient(create_app()):
            # Then what it holds (modules, app, settings) is frozen out of the collector's walks
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
