"""Prometheus's own tools in tests: found on PATH, else skipped locally and failed in CI,
naming the Debian package that ships them (``.ci/run`` installs it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.sinks import QuietHandler, free_port, loopback_server
from tests.support.waiting import wait_for

#: The Debian package with ``prometheus`` and ``promtool``.
PACKAGE = "prometheus"
START_TIMEOUT_S = 60


def require_tool(name: str) -> str:
    """The path of ``name`` (``promtool``, ``prometheus``); a failure under ``CI=true``."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package {PACKAGE!r}: apt-get install {PACKAGE})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS``, its output captured (60 s at most)."""
    command = [require_tool("promtool"), *args]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, check=False, timeout=60
    )


@contextmanager
def prometheus_server(config: Path, port: int, data_dir: Path) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1:``port`` with ``config``, keeping its data in
    ``data_dir``; yields its base URL and stops it (by its pid) on exit."""
    command = [
        require_tool("prometheus"), f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}", f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / "prometheus.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _ready(url, server), timeout=START_TIMEOUT_S, what="Prometheus ready")
        yield url
    except BaseException:
        print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        with suppress(ProcessLookupError):
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _ready(url: str, server: subprocess.Popen[bytes]) -> bool:
    assert server.poll() is None, f"prometheus exited with {server.returncode}"
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The instant-query result of ``expr``; fails on a parse or evaluation error."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert response.status_code == 200, (expr, body)
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


class Gauge:
    """One gauge a test sets, on a metrics page a Prometheus server scrapes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0.0

    def page(self) -> bytes:
        """The exposition text of the gauge's current value."""
        return f"# TYPE {self.name} gauge\n{self.name} {self.value}\n".encode()


@contextmanager
def gauge_target(name: str) -> Iterator[tuple[Gauge, str]]:
    """A metrics page on loopback serving the gauge ``name``: yields it and the page's
    ``host:port`` (a scrape target)."""
    gauge = Gauge(name)

    class Page(QuietHandler):
        def do_GET(self) -> None:
            self.reply(200, gauge.page(), "text/plain; version=0.0.4")

    with loopback_server(Page) as server:
        yield gauge, f"127.0.0.1:{server.server_address[1]}"


@contextmanager
def scraping_gauge(
    directory: Path, name: str, extra: dict[str, Any] | None = None
) -> Iterator[tuple[Gauge, str]]:
    """A real Prometheus scraping the gauge ``name`` every second (and evaluating its rules
    every second), ``extra`` merged into its configuration (``rule_files``, ``alerting``);
    yields the gauge and the server's URL."""
    with gauge_target(name) as (gauge, target):
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "gauge", "static_configs": [{"targets": [target]}]}],
            **(extra or {}),
        }  # fmt: skip
        path = directory / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        port = free_port()
        with prometheus_server(path, port, directory / "data") as url:
            yield gauge, url
