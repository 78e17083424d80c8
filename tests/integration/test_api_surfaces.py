"""What a browser and a scraper meet: security headers on every response, a policy on /docs
that allows exactly what Swagger UI's page loads, CORS only for configured origins, and
/metrics behind a token when one is set."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Headers, api_client, assert_error
from tests.support.channels import channel_settings

APP_ORIGIN = "https://app.example"
OTHER_ORIGIN = "https://elsewhere.example"
TOKEN = "metrics-token-0123456789"


@pytest.fixture(scope="module")
def configured(runtime: dict[str, str]) -> Iterator[TestClient]:
    """A client of an API with CORS for :data:`APP_ORIGIN` and a metrics token."""
    with (
        channel_settings(TASKYARD_CORS_ORIGINS=APP_ORIGIN, TASKYARD_METRICS_TOKEN=TOKEN),
        api_client() as test_client,
    ):
        yield test_client


def _policy(header: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (d.split() for d in header.split(";"))}


@pytest.mark.parametrize(
    ("path", "status"),
    [("/healthz", 200), ("/openapi.json", 200), ("/v1/jobs", 401), ("/docs", 200)],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, path: str, status: int
) -> None:
    response = client.get(path)

    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert _policy(response.headers["Content-Security-Policy"])["default-src"] == ["'none'"]


def test_the_docs_policy_allows_exactly_what_swagger_ui_loads(client: TestClient) -> None:
    response = client.get("/docs")
    page = response.text
    policy = _policy(response.headers["Content-Security-Policy"])

    # Its scripts: the CDN bundle by URL, the inline start-up by hash, nothing else
    (inline,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert sorted(policy["script-src"]) == sorted(
        [*re.findall(r'<script src="([^"]+)"', page), f"'sha256-{digest}'"]
    )
    assert all(
        url.startswith("https://cdn.jsdelivr.net/") for url in re.findall(r'src="([^"]+)"', page)
    )
    # Every URL the page names is allowed, and it fetches the spec from this origin only
    for url in re.findall(r'(?:src|href)="(https://[^"]+)"', page):
        assert any(url in sources for sources in policy.values()), url
    assert policy["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_only_the_docs_page_is_served(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404


def test_cors_is_off_unless_configured(
    client: TestClient, configured: TestClient, admin: Headers
) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip

    # Off by default: no origin is told it may read
    for origin in (APP_ORIGIN, OTHER_ORIGIN):
        asked = client.options("/v1/jobs", headers={"Origin": origin, **preflight})
        read = client.get("/v1/queues", headers={"Origin": origin, **admin})
        assert "access-control-allow-origin" not in asked.headers
        assert "access-control-allow-origin" not in read.headers

    # Configured: the listed origin, and only it
    allowed = configured.options("/v1/jobs", headers={"Origin": APP_ORIGIN, **preflight})
    refused = configured.options("/v1/jobs", headers={"Origin": OTHER_ORIGIN, **preflight})
    read = configured.get("/v1/queues", headers={"Origin": APP_ORIGIN, **admin})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-credentials" not in allowed.headers
    assert "access-control-allow-origin" not in refused.headers
    assert read.headers["access-control-allow-origin"] == APP_ORIGIN


def test_metrics_are_open_by_default_and_need_the_token_once_set(
    client: TestClient, configured: TestClient
) -> None:
    assert client.get("/metrics").status_code == 200

    assert_error(configured.get("/metrics"), 401, "unauthorized")
    wrong = configured.get("/metrics", headers={"Authorization": "Bearer nope"})
    right = configured.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert_error(wrong, 401, "unauthorized")
    assert TOKEN not in wrong.text
    assert right.status_code == 200
    assert "taskyard_" in right.text
