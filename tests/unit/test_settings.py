"""Settings: defaults, derived values, and one clear line for each invalid variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workers.errors import SettingsError
from workers.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BROKER_URL", "DATABASE_URL", "REDIS_URL", "RESULT_TTL_S", "FLOWER_BASIC_AUTH"):
        monkeypatch.delenv(f"TASKYARD_{name}", raising=False)


def test_redis_for_locks_defaults_to_a_redis_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKYARD_BROKER_URL", "redis://cache:6379/2")

    settings = load_settings()

    assert settings.locks_url == "redis://cache:6379/2"
    assert settings.broker_family == "redis"


def test_rabbitmq_broker_needs_its_own_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKYARD_BROKER_URL", "amqp://guest:guest@mq:5672//")

    with pytest.raises(SettingsError, match="TASKYARD_REDIS_URL is required"):
        load_settings()

    monkeypatch.setenv("TASKYARD_REDIS_URL", "redis://cache:6379/0")
    assert load_settings().broker_family == "amqp"


def test_plain_postgresql_urls_use_psycopg2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKYARD_DATABASE_URL", "postgresql://u:p@db:5432/taskyard")

    assert load_settings().database_url == "postgresql+psycopg2://u:p@db:5432/taskyard"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TASKYARD_BROKER_URL", "kafka://x", "TASKYARD_BROKER_URL: scheme 'kafka'"),
        ("TASKYARD_DATABASE_URL", "mysql://x/y", "TASKYARD_DATABASE_URL: scheme 'mysql'"),
        ("TASKYARD_RESULT_TTL_S", "-1", "TASKYARD_RESULT_TTL_S: Input should be greater than 0"),
        ("TASKYARD_LOG_FORMAT", "xml", "TASKYARD_LOG_FORMAT: Input should be 'json' or 'text'"),
        ("TASKYARD_FLOWER_BASIC_AUTH", "nocolon", "TASKYARD_FLOWER_BASIC_AUTH: expected user"),
    ],
)
def test_invalid_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value).startswith(expected)


def test_heartbeats_must_outpace_staleness_and_redelivery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKYARD_HEARTBEAT_INTERVAL_S", "5")
    monkeypatch.setenv("TASKYARD_STALE_AFTER_S", "10")
    with pytest.raises(SettingsError, match="at least 3 heartbeat intervals"):
        load_settings()

    monkeypatch.setenv("TASKYARD_STALE_AFTER_S", "60")
    monkeypatch.setenv("TASKYARD_VISIBILITY_TIMEOUT_S", "30")
    with pytest.raises(SettingsError, match="must exceed TASKYARD_STALE_AFTER_S"):
        load_settings()


def test_a_process_with_invalid_settings_stops_with_one_line() -> None:
    # Given a worker started with a broken variable
    env = {"TASKYARD_BROKER_URL": "kafka://nowhere", "PATH": "/usr/bin:/bin"}

    # When the Celery app is imported, as `celery -A workers.app` does
    done = subprocess.run(
        [sys.executable, "-c", "import workers.app"], env=env, capture_output=True, text=True
    )

    # Then it exits non-zero with one line naming the variable, no traceback
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "taskyard: invalid settings: TASKYARD_BROKER_URL: scheme 'kafka' is not supported; "
        "use redis:// or amqp://"
    ]
