"""An unexpected error while sending reaches Sentry without the channel's secrets, although a
sender's frames hold them in clear (a Slack URL is a local variable of the request).

The reporting process runs apart, and the ingest is a plain HTTP sink: Sentry set up in the
test process (even by ``sentry_sdk.init(dsn=None)``) would add its Celery integration's headers
to every later ``send_task`` there, which other tests compare against."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.channels import LOOPBACK
from tests.support.sinks import HttpSink, http_sink

TOKEN = "sentryslacktoken4242"
ROOT = Path(__file__).resolve().parents[2]
REPORTER = textwrap.dedent(
    """
    import os
    import sys

    import httpx
    import sentry_sdk

    from tasks.notifications.senders import post_json
    from workers.observability.sentry import init_sentry
    from workers.settings import Settings

    def broken(*args, **kwargs):
        raise RuntimeError("the transport broke")

    assert init_sentry(Settings(sentry_dsn=sys.argv[1]), "test")
    httpx.Client.request = broken
    try:
        post_json(os.environ["SENDER_URL"], b"{}", {})
    except RuntimeError as error:
        sentry_sdk.capture_exception(error)
    sentry_sdk.flush(timeout=5)
    """
)


@pytest.fixture
def ingest() -> Iterator[HttpSink]:
    with http_sink() as running:
        yield running


def test_a_sender_crash_reports_no_secret(ingest: HttpSink) -> None:
    dsn = f"http://public@{ingest.url.removeprefix('http://')}/1"
    env = {**os.environ, "TASKYARD_OUTBOUND_ALLOW": LOOPBACK, "PYTHONPATH": str(ROOT)}

    with http_sink() as receiver:
        # In the environment, not on the command line: Sentry reports a process's argv.
        env["SENDER_URL"] = f"{receiver.url}/services/T/B/{TOKEN}"
        subprocess.run(
            [sys.executable, "-c", REPORTER, dsn], env=env, cwd=ROOT, check=True, timeout=60
        )

    reports = b"".join(
        gzip.decompress(r.body) if r.headers.get("Content-Encoding") == "gzip" else r.body
        for r in ingest.received
    )
    assert b"the transport broke" in reports
    assert b"post_json" in reports
    assert TOKEN.encode() not in reports
