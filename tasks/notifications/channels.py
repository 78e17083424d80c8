"""Channel kinds and their settings: one strict pydantic model per kind, told apart by
``kind``, with the secret fields (write-only) named per kind."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import apprise
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from tasks.notifications.errors import InvalidChannel
from workers.limits import parse_rate_limit
from workers.names import NAME_RULE, is_name
from workers.observability.redaction import redacting

MAX_DESCRIPTION = 500
MAX_URL = 2000
MAX_RECIPIENTS = 50
MIN_WEBHOOK_SECRET = 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")


class ChannelKind(StrEnum):
    """Where a channel delivers."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"
    APPRISE = "apprise"


#: How an email channel protects its SMTP connection: STARTTLS, implicit TLS, or none.
SmtpSecurity = Literal["starttls", "tls", "none"]


def _one_line(value: str) -> str:
    # No NUL (PostgreSQL cannot store it) and no CR/LF (an SMTP or HTTP header injection).
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL, CR, LF, ...)")
    return value


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address (name@domain)")
    return value


def _host(value: str) -> str:
    if not _HOST.fullmatch(value):
        raise ValueError(f"{value!r} is not a host name or IP address")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    _ = parts.port  # a ValueError (an invalid port) is a validation error here
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; a webhook is signed with its secret")
    return value


def _secret_http_url(value: SecretStr) -> SecretStr:
    # Said without the URL: it is a secret.
    try:
        parts = urlsplit(value.get_secret_value())
        _ = parts.port
    except ValueError:
        raise ValueError("must be an http:// or https:// URL with a valid port") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


def _secret_text(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if not 1 <= len(text) <= MAX_URL:
        raise ValueError(f"must be 1 to {MAX_URL} characters")
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters (NUL, CR, LF, ...)")
    return value


def _webhook_secret(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) < MIN_WEBHOOK_SECRET:
        raise ValueError(f"must be at least {MIN_WEBHOOK_SECRET} characters")
    return value


def _rate_limit(value: str) -> str:
    parse_rate_limit(value)
    return value


def apprise_plugin(url: str) -> Any:
    """Apprise's plugin for ``url`` (``None`` when Apprise cannot read it); Apprise logs the
    URL it loads, so its log lines are redacted meanwhile."""
    with redacting([url]):
        return apprise.Apprise.instantiate(url)


def _apprise_url(value: SecretStr) -> SecretStr:
    if apprise_plugin(value.get_secret_value()) is None:
        raise ValueError("Apprise cannot read this URL; see the Apprise wiki for its services")
    return value


Line = Annotated[str, AfterValidator(_one_line)]
Address = Annotated[str, Field(max_length=254), AfterValidator(_one_line), AfterValidator(_address)]
Host = Annotated[str, AfterValidator(_host)]
HttpUrl = Annotated[str, Field(max_length=MAX_URL), AfterValidator(_one_line),
                    AfterValidator(_http_url)]  # fmt: skip
Secret = Annotated[SecretStr, AfterValidator(_secret_text)]
SecretUrl = Annotated[Secret, AfterValidator(_secret_http_url)]
RateLimit = Annotated[str, Field(max_length=100), AfterValidator(_rate_limit)]


class _Config(BaseModel):
    """What every kind takes: a rate limit shared by all workers, and whether the receiver
    deduplicates (so a send whose outcome is unknown may be sent again)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    rate_limit: RateLimit | None = Field(
        default=None, description="Sends allowed across all workers, e.g. `20/second`."
    )
    idempotent: bool = Field(
        default=False,
        description="The receiver drops a repeated `Idempotency-Key` (webhook) or `Message-ID` "
        "(email), so a send whose outcome is unknown may be sent again.",
    )


class EmailConfig(_Config):
    """SMTP: STARTTLS (port 587), implicit TLS (465) or none (a trusted relay), optional login."""

    kind: Literal["email"] = "email"
    host: Host
    port: int = Field(default=587, ge=1, le=65_535)
    security: SmtpSecurity = "starttls"
    username: Line | None = Field(default=None, min_length=1, max_length=200)
    password: Secret | None = None
    sender: Address
    recipients: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS)


class WebhookConfig(_Config):
    """An HTTP POST of JSON, signed in ``Taskyard-Signature`` with ``secret``."""

    kind: Literal["webhook"] = "webhook"
    url: HttpUrl
    secret: Annotated[Secret, AfterValidator(_webhook_secret)]


class SlackConfig(_Config):
    """A Slack incoming webhook; its URL is the credential."""

    kind: Literal["slack"] = "slack"
    url: SecretUrl


class AppriseConfig(_Config):
    """Any service Apprise knows, named by an Apprise URL (which holds its credentials)."""

    kind: Literal["apprise"] = "apprise"
    url: Annotated[Secret, AfterValidator(_apprise_url)]


ChannelConfig = Annotated[
    EmailConfig | WebhookConfig | SlackConfig | AppriseConfig, Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[ChannelConfig] = TypeAdapter(ChannelConfig)
#: The write-only fields of each kind: never in a response, a log line or an error.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    ChannelKind.EMAIL: ("password",),
    ChannelKind.WEBHOOK: ("secret",),
    ChannelKind.SLACK: ("url",),
    ChannelKind.APPRISE: ("url",),
}


def field_errors(error: PydanticValidationError, prefix: str) -> list[dict[str, str]]:
    """Pydantic's errors as ``[{"field", "message"}]``, never quoting the input."""
    items = []
    for e in error.errors(include_input=False, include_url=False):
        loc = [str(part) for part in e["loc"]]
        if loc and loc[0] in SECRET_FIELDS:  # the union's tag, not a field
            loc = loc[1:]
        message = e["msg"].removeprefix("Value error, ")
        items.append({"field": ".".join([prefix, *loc]), "message": message})
    return items


def parse_config(document: Any, prefix: str = "config") -> ChannelConfig:
    """``document`` as its kind's settings, else :class:`InvalidChannel` naming the fields."""
    try:
        return _ADAPTER.validate_python(document)
    except PydanticValidationError as error:
        details = field_errors(error, prefix)
        first = f"{details[0]['field']}: {details[0]['message']}"
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise InvalidChannel(f"invalid channel settings: {first}{more}", details) from None


def check_name(name: str) -> str:
    """``name`` when usable, else :class:`InvalidChannel`."""
    if not is_name(name):
        message = f"is not a usable name; {NAME_RULE}"
        raise InvalidChannel(f"name: {message}", [{"field": "name", "message": message}])
    return name


def check_description(description: str | None) -> str | None:
    """``description`` when it fits and holds no control character but newlines and tabs."""
    if description is None:
        return None
    if len(description) > MAX_DESCRIPTION or "\x00" in description:
        message = f"must be at most {MAX_DESCRIPTION} characters, without NUL"
        raise InvalidChannel(f"description: {message}", [{"field": "description",
                                                           "message": message}])  # fmt: skip
    return description


def split(config: ChannelConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """``config`` as (public settings, secrets): the first may be shown, the second never."""
    secret_names = SECRET_FIELDS[config.kind]
    public = config.model_dump(mode="json", exclude={"kind", *secret_names})
    secrets = {
        name: value.get_secret_value()
        for name in secret_names
        if isinstance(value := getattr(config, name), SecretStr)
    }
    return public, secrets


def join(kind: str, public: dict[str, Any], secrets: dict[str, str]) -> ChannelConfig:
    """The settings stored as ``public`` and ``secrets`` (the inverse of :func:`split`)."""
    return parse_config({"kind": kind, **public, **secrets})


def merged(config: ChannelConfig, changes: dict[str, Any]) -> ChannelConfig:
    """``config`` with ``changes`` applied (a field set to ``None`` returns to its default);
    the kind cannot change."""
    if changes.get("kind", config.kind) != config.kind:
        message = f"cannot change a channel's kind ({config.kind}); add a new channel instead"
        raise InvalidChannel(f"config.kind: {message}", [{"field": "config.kind",
                                                          "message": message}])  # fmt: skip
    public, secrets = split(config)
    document: dict[str, Any] = {"kind": config.kind, **public, **secrets}
    for name, value in changes.items():
        if value is None:
            document.pop(name, None)
        else:
            document[name] = value
    return parse_config(document)
