"""Settings: defaults, derived values, and one clear line for each invalid variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workers.errors import SettingsError
from workers.settings import load_settings
from workers.stackfile import STACK_FILE, dotenv_line, settings_source


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    names = ("BROKER_URL", "DATABASE_URL", "REDIS_URL", "RESULT_TTL_S", "FLOWER_BASIC_AUTH",
             "VAR_DIR", "API_URL")  # fmt: skip
    for name in names:
        monkeypatch.delenv(f"TASKYARD_{name}", raising=False)
    # A dev stack's var/dev.env in the checkout must not change what these tests see.
    monkeypatch.chdir(tmp_path)


def write_dev_settings(var_dir: Path, **values: str) -> Path:
    """A ``dev.env`` as `taskyard dev` writes it."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / STACK_FILE
    lines = [dotenv_line(f"TASKYARD_{name.upper()}", value) for name, value in values.items()]
    path.write_text("# written by a test\n" + "\n".join(lines) + "\n")
    return path


DEV_BROKER = "redis+socket:///tmp/dev/var/redis/redis.sock?virtual_host=0"
DEV_STORE = "sqlite:////tmp/dev/var/taskyard.db"


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
        ("TASKYARD_CORS_ORIGINS", "*", "TASKYARD_CORS_ORIGINS: '*' is not an explicit"),
        (
            "TASKYARD_CORS_ORIGINS",
            "https://ok.example,https://*.example",
            "TASKYARD_CORS_ORIGINS: ",
        ),
        ("TASKYARD_CORS_ORIGINS", "https://app.example/", "TASKYARD_CORS_ORIGINS: 'https://app"),
        ("TASKYARD_CORS_ORIGINS", "app.example", "TASKYARD_CORS_ORIGINS: 'app.example' is not"),
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


def test_the_dev_stack_file_beside_the_process_fills_in_the_stack(tmp_path: Path) -> None:
    # Given `taskyard dev` wrote its settings into ./var, and the environment names no stack
    write_dev_settings(
        tmp_path / "var", broker_url=DEV_BROKER, database_url=DEV_STORE, api_url="http://h:1"
    )

    # When a process started in that directory reads its settings
    settings = load_settings()

    # Then they are the dev stack's; fields the file does not name keep their defaults
    assert settings.broker_url == DEV_BROKER
    assert settings.database_url == DEV_STORE
    assert settings.api_url == "http://h:1"
    assert settings.locks_url == DEV_BROKER
    assert settings.result_ttl_s == 86_400
    assert settings_source() == "dev stack"


def test_an_environment_variable_wins_over_the_dev_stack_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_dev_settings(tmp_path / "var", broker_url=DEV_BROKER, api_url="http://h:1")
    monkeypatch.setenv("TASKYARD_API_URL", "http://api:8000")

    settings = load_settings()

    assert settings.api_url == "http://api:8000"
    assert settings.broker_url == DEV_BROKER


@pytest.mark.parametrize(
    "variable", ["TASKYARD_BROKER_URL", "TASKYARD_DATABASE_URL", "TASKYARD_REDIS_URL"]
)
def test_naming_a_stack_in_the_environment_ignores_the_file_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    # Given a dev stack file, and the environment naming a broker, a store or a Redis of its own
    write_dev_settings(tmp_path / "var", broker_url=DEV_BROKER, database_url=DEV_STORE)
    monkeypatch.setenv(variable, "redis://other:6379/3")
    if variable == "TASKYARD_DATABASE_URL":
        monkeypatch.setenv(variable, "sqlite:////elsewhere/taskyard.db")

    # When the settings are read
    settings = load_settings()

    # Then nothing comes from the file: a process never mixes its stack with the dev stack's
    assert DEV_BROKER not in {settings.broker_url, settings.locks_url}
    assert settings.database_url != DEV_STORE
    assert settings_source() == "environment"


def test_the_file_is_read_only_where_the_var_dir_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a dev stack's file in <project>/var
    write_dev_settings(tmp_path / "project" / "var", broker_url=DEV_BROKER)

    # When a process starts in another directory, even a subdirectory of the project
    (tmp_path / "project" / "cli").mkdir()
    monkeypatch.chdir(tmp_path / "project" / "cli")

    # Then it does not see the file, unless TASKYARD_VAR_DIR points at that var dir
    assert load_settings().broker_url == "redis://127.0.0.1:6379/0"
    assert settings_source() == "defaults"
    monkeypatch.setenv("TASKYARD_VAR_DIR", str(tmp_path / "project" / "var"))
    assert load_settings().broker_url == DEV_BROKER


def test_values_survive_the_file_with_quotes_hashes_and_backslashes(tmp_path: Path) -> None:
    tricky = "postgresql://u:p'a#ss w\\rd\"@db:5432/taskyard"
    write_dev_settings(tmp_path / "var", broker_url=DEV_BROKER, database_url=tricky)

    assert load_settings().database_url == "postgresql+psycopg2" + tricky[len("postgresql") :]


def test_an_invalid_value_in_the_file_names_its_variable(tmp_path: Path) -> None:
    write_dev_settings(tmp_path / "var", broker_url="kafka://x")

    with pytest.raises(SettingsError, match=r"^TASKYARD_BROKER_URL: scheme 'kafka'"):
        load_settings()
