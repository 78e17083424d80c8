"""An unexpected error while sending reaches Sentry without the channel's secrets, although a
sender's frames hold them in clear (a Slack URL is a local variable of the request)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sentry_sdk

from tasks.notifications.senders import post_json
from tests.support.channels import channel_settings
from tests.support.sentry_sink import sentry_sink
from tests.support.sinks import http_sink
from workers.observability.sentry import init_sentry
from workers.settings import Settings

TOKEN = "sentryslacktoken4242"


@pytest.fixture
def sink() -> Iterator[tuple[str, list[bytes]]]:
    with channel_settings(), sentry_sink() as dsn_and_envelopes:
        yield dsn_and_envelopes


def test_a_sender_crash_reports_no_secret(
    sink: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, envelopes = sink
    assert init_sentry(Settings(sentry_dsn=dsn), "test")

    def broken(*args: object, **kwargs: object) -> httpx.Response:
        raise RuntimeError("the transport broke")

    monkeypatch.setattr(httpx.Client, "post", broken)
    with http_sink() as receiver:
        try:
            post_json(f"{receiver.url}/services/T/B/{TOKEN}", b"{}", {})
        except RuntimeError as error:
            sentry_sdk.capture_exception(error)
    sentry_sdk.flush(timeout=5)

    reports = b"".join(envelopes)
    assert b"the transport broke" in reports
    assert b"post_json" in reports
    assert TOKEN.encode() not in reports
