"""With Sentry on, an error report reaches the DSN's server with every secret masked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sentry_sdk

from tests.support.sentry_sink import sentry_sink
from workers.observability.sentry import init_sentry
from workers.settings import Settings

SECRETS = ("hunter2", "s3cret-pw", "abcdefghijklmnopqrstuvwxyz")


@pytest.fixture
def sink() -> Iterator[tuple[str, list[bytes]]]:
    with sentry_sink() as dsn_and_envelopes:
        yield dsn_and_envelopes


def test_error_reports_carry_no_secrets(sink: tuple[str, list[bytes]]) -> None:
    dsn, envelopes = sink
    settings = Settings(sentry_dsn=dsn, broker_url="redis://:hunter2@cache:6379/0")
    assert init_sentry(settings, "test")

    try:
        raise ConnectionError(
            "cannot reach postgresql://app:s3cret-pw@db/taskyard with "
            "Bearer tyk_abcdefghijklmnopqrstuvwxyz"
        )
    except ConnectionError as error:
        with sentry_sdk.new_scope() as scope:
            scope.set_extra("api_key", "tyk_abcdefghijklmnopqrstuvwxyz")
            scope.set_extra("broker", settings.broker_url)
            sentry_sdk.capture_exception(error)
    sentry_sdk.flush(timeout=5)

    reports = b"".join(envelopes)
    assert b"ConnectionError" in reports
    for secret in SECRETS:
        assert secret.encode() not in reports
