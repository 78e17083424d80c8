"""One typed settings object for every process, read from ``TASKYARD_*`` variables.

Precedence: an environment variable, then the dev stack's settings file (``var/dev.env``, see
:mod:`workers.stackfile`; only when the environment names no broker, store or Redis), then the
default below.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.errors import SettingsError
from workers.limits import parse_rate_limit
from workers.stackfile import applicable_file

ENV_PREFIX = "TASKYARD_"
REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+socket"})
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})
FERNET_KEY_BYTES = 32
HOST_PATTERN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*\.?")


class Settings(BaseSettings):
    """Every knob of the platform; each field is ``TASKYARD_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    broker_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "sqlite:///var/taskyard.db"
    redis_url: str | None = Field(
        default=None, description="Locks and rate limits; defaults to the broker when it is Redis."
    )
    result_ttl_s: int = Field(default=86_400, gt=0)
    visibility_timeout_s: int = Field(
        default=30, gt=0, description="Redis: an unacked message is redelivered after this long."
    )
    heartbeat_interval_s: float = Field(default=2.0, gt=0)
    stale_after_s: float = Field(
        default=10.0, gt=0, description="A started job whose heartbeat is older is presumed lost."
    )
    dispatcher_interval_s: float = Field(default=0.5, gt=0)
    lost_message_after_s: float = Field(
        default=60.0,
        gt=0,
        description="Redis: a job queued this long is checked for a message lost in transit.",
    )
    idempotency_window_s: int = Field(default=86_400, gt=0)
    api_url: str = Field(
        default="http://127.0.0.1:8000", description="Where `taskyard doctor` finds the API."
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65_535, description="Workers, dispatchers and beat export here; 0: off."
    )
    sentry_dsn: SecretStr | None = None
    environment: str = "development"
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    flower_basic_auth: SecretStr | None = None
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    # The API's surfaces (api/surfaces.py): cross-origin reads, the Prometheus scrape.
    cors_origins: str = Field(
        default="",
        description="Origins (scheme://host[:port], comma-separated) browsers may call the API "
        "from; empty: CORS off.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, the API's /metrics answers only `Authorization: Bearer <token>`.",
    )
    api_workers: int = Field(
        default=2, ge=1, le=64, description="Processes `taskyard api` runs (one per core)."
    )
    api_rate_limit: str | None = Field(
        default=None,
        description="Requests (a batch: its jobs) per API key, e.g. 100/second; unset: none.",
    )
    auth_failure_limit: str | None = Field(
        default="20/minute",
        description="Failed authentications per client address before the API answers 429.",
    )
    speedups: bool = Field(
        default=True,
        description="Measured bypasses of library internals (workers/speedups/); off: plain paths.",
    )
    tracing: bool = Field(
        default=False,
        description="OpenTelemetry spans over OTLP/HTTP, set up by the standard OTEL_* variables.",
    )
    worker_max_tasks_per_child: int = Field(default=10_000, gt=0)
    worker_max_memory_per_child_kib: int = Field(default=512_000, gt=0)
    # Maintenance (tasks/maintenance): retention of finished records, purge batches, backups.
    var_dir: Path | None = Field(default=None, description="Local state; ./var when unset.")
    retention_succeeded_days: int = Field(default=7, ge=1)
    retention_failed_days: int = Field(default=30, ge=1)
    retention_dead_days: int = Field(default=30, ge=1)
    retention_cancelled_days: int = Field(default=7, ge=1)
    retention_fires_days: int = Field(default=30, ge=1, description="schedule_fires rows")
    retention_maintenance_runs_days: int = Field(default=30, ge=1)
    retention_audit_days: int = Field(
        default=365, ge=1, description="audit_entries rows (who did what); purged by nothing else."
    )
    purge_batch_size: int = Field(default=1000, ge=1, le=100_000)
    backup_dir: Path | None = Field(default=None, description="<var dir>/backups when unset.")
    backup_keep: int = Field(default=7, ge=1, description="Backups kept by rotation.")
    # Beat (schedules/): the leader lock, lateness allowed before a slot counts as missed.
    beat_lock_ttl_s: float = Field(
        default=10.0, ge=2, description="Beat leader lock TTL; a standby takes over within it."
    )
    beat_grace_s: float = Field(
        default=60.0, gt=0, description="A slot this late still fires; older ones are missed."
    )
    beat_static_entries: bool = Field(
        default=True, description="Fire the static catalog (schedules/catalog.py)."
    )

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in REDIS_SCHEMES | AMQP_SCHEMES:
            raise ValueError(f"scheme {scheme!r} is not supported; use redis:// or amqp://")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme in {"postgres", "postgresql"}:
            return "postgresql+psycopg2" + value[len(scheme) :]
        if scheme not in {"postgresql+psycopg2", "sqlite"}:
            raise ValueError(f"scheme {scheme!r} is not supported; use postgresql:// or sqlite://")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, value: str) -> str:
        split_origins(value)
        return value

    @field_validator(
        "sentry_dsn",
        "flower_basic_auth",
        "var_dir",
        "backup_dir",
        "metrics_token",
        "secret_keys",
        "notify_ca_file",
        "prometheus_url",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("api_rate_limit", "auth_failure_limit", mode="before")
    @classmethod
    def _rate_limit(cls, value: object) -> object:
        if value is None or value == "":
            return None
        parse_rate_limit(str(value))
        return value

    @field_validator("flower_basic_auth")
    @classmethod
    def _user_colon_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and ":" not in value.get_secret_value():
            raise ValueError("expected user:password")
        return value

    @model_validator(mode="after")
    def _heartbeats_outpace_staleness(self) -> Settings:
        if self.stale_after_s < 3 * self.heartbeat_interval_s:
            raise ValueError("TASKYARD_STALE_AFTER_S must be at least 3 heartbeat intervals")
        if self.visibility_timeout_s <= self.stale_after_s:
            raise ValueError("TASKYARD_VISIBILITY_TIMEOUT_S must exceed TASKYARD_STALE_AFTER_S")
        return self

    @model_validator(mode="after")
    def _failover_is_late_not_missed(self) -> Settings:
        if self.beat_grace_s < self.beat_lock_ttl_s + 2:
            raise ValueError("TASKYARD_BEAT_GRACE_S must exceed TASKYARD_BEAT_LOCK_TTL_S by 2 s")
        return self

    @model_validator(mode="after")
    def _redis_for_locks(self) -> Settings:
        if self.redis_url is None:
            if self.broker_family != "redis":
                raise ValueError("TASKYARD_REDIS_URL is required when the broker is not Redis")
            self.redis_url = self.broker_url
        elif urlsplit(self.redis_url).scheme not in REDIS_SCHEMES:
            raise ValueError("TASKYARD_REDIS_URL must be a redis:// URL")
        return self

    @property
    def broker_family(self) -> Literal["redis", "amqp"]:
        """Which broker protocol the URL speaks."""
        return "redis" if urlsplit(self.broker_url).scheme in REDIS_SCHEMES else "amqp"

    @property
    def backup_path(self) -> Path:
        """``TASKYARD_BACKUP_DIR``, else ``backups`` in ``TASKYARD_VAR_DIR`` (``./var``)."""
        return self.backup_dir or (self.var_dir or Path("var")) / "backups"

    @property
    def locks_url(self) -> str:
        """The Redis URL for locks, rate limits and results (never ``None`` after validation)."""
        assert self.redis_url is not None
        return self.redis_url

    # Data at rest (workers/sealing.py); notifications' outbound targets and sends.
    secret_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet keys, comma-separated: the first seals data at rest (channel secrets, "
            "sensitive job payloads), all unseal."
        ),
    )
    outbound_allow: str = Field(
        default="",
        description="CIDRs and host names a channel may reach although private or loopback.",
    )
    notify_timeout_s: float = Field(default=10.0, gt=0, le=300)
    notify_ca_file: Path | None = Field(
        default=None, description="Extra CA certificates (PEM) trusted by SMTP and HTTPS sends."
    )
    notify_max_attempts: int = Field(
        default=6, ge=1, le=25, description="Sends a delivery may make before it is dead."
    )
    notify_backoff_base_s: float = Field(default=2.0, gt=0, le=3_600)
    notify_backoff_cap_s: float = Field(default=600.0, gt=0, le=86_400)
    notify_retry_after_cap_s: float = Field(
        default=3_600.0, gt=0, le=86_400, description="The longest Retry-After a delivery honours."
    )
    retention_deliveries_days: int = Field(
        default=30, ge=1, description="Finished deliveries and their notifications."
    )
    retention_alert_events_days: int = Field(
        default=90, ge=1, description="alert_events rows (an alert's history); owed notices stay."
    )
    breaker_failures: int = Field(
        default=5, ge=1, le=1000, description="Retryable failures in a row that open a breaker."
    )
    breaker_reset_s: float = Field(
        default=30.0, gt=0, le=3600, description="An open breaker lets one trial send after this."
    )

    # Alerts (tasks/alerts): the Prometheus server PromQL rules read, the Alertmanager door.
    prometheus_url: str | None = Field(
        default=None,
        description="The Prometheus HTTP API a promql rule reads when its spec names no url.",
    )
    alerts_resolve_timeout_s: int = Field(
        default=300,
        ge=10,
        le=86_400,
        description="A received alert without endsAt is resolved this long after it was posted.",
    )

    @field_validator("secret_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            split_keys(value.get_secret_value())
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _allow_list(cls, value: str) -> str:
        split_allow_list(value)
        return value


def split_keys(text: str) -> list[str]:
    """The Fernet keys in ``text`` (comma-separated), or ``ValueError`` naming a bad one by its
    position, never by its value."""
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise ValueError("expected one or more Fernet keys, comma-separated")
    for position, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) != FERNET_KEY_BYTES:
            raise ValueError(
                f"key {position} is not a Fernet key (32 url-safe base64 bytes); "
                "make one with `taskyard keys new-data-key`"
            )
    return keys


def split_origins(text: str) -> list[str]:
    """The CORS origins in ``text`` (comma-separated), each exactly ``scheme://host[:port]``;
    ``ValueError`` for a wildcard, a path or another scheme."""
    origins = [part.strip() for part in text.split(",") if part.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.hostname or "*" in origin:
            raise ValueError(f"{origin!r} is not an explicit http(s) origin (no wildcard)")
        if origin != f"{parts.scheme}://{parts.netloc}" or parts.username is not None:
            raise ValueError(f"{origin!r} must be scheme://host[:port] only, without a path")
    return origins


def split_allow_list(text: str) -> tuple[list[IPv4Network | IPv6Network], list[str]]:
    """The networks and host names of an outbound allow-list (comma-separated)."""
    networks: list[IPv4Network | IPv6Network] = []
    hosts: list[str] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            if not HOST_PATTERN.fullmatch(entry):
                raise ValueError(f"{entry!r} is neither a CIDR nor a host name") from None
            hosts.append(entry.lower().rstrip("."))
    return networks, hosts


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"])
        name = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {message}")
    return "; ".join(parts)


def load_settings() -> Settings:
    """Read the settings (environment, dev stack file), raising :class:`SettingsError`."""
    try:
        return Settings(_env_file=applicable_file())
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; an invalid value stops the process with one line naming it."""
    try:
        return load_settings()
    except SettingsError as error:
        raise SystemExit(f"taskyard: invalid settings: {error}") from None
