"""Sending one message through one channel, whatever its kind, to a typed :class:`Outcome`.

Webhook and Slack requests go to the address that was checked (the host is resolved, every
address checked, and the connection pinned to the first, with the original ``Host`` and TLS
server name), so a name that changes its answer between check and send cannot redirect them.
Redirects are not followed. SMTP and Apprise resolve again themselves right after the check."""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import apprise
import httpx

from tasks.notifications.channels import (
    AppriseConfig,
    ChannelConfig,
    EmailConfig,
    SlackConfig,
    WebhookConfig,
    apprise_plugin,
    split,
)
from tasks.notifications.errors import OutboundRefused
from tasks.notifications.message import Message, tls_context
from tasks.notifications.outbound import TargetUnresolved, checked_addresses
from tasks.notifications.outcomes import ErrorClass, Outcome, classify_status, delivered, failed
from tasks.notifications.signing import HEADER, sign
from tasks.notifications.smtp import send_email
from tasks.notifications.targets import check_target
from workers.observability.redaction import redact, redacting
from workers.settings import get_settings

USER_AGENT = "Taskyard-Notifications/1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Webhook and Slack hosts a process keeps an HTTP client (and its open connections) for.
KEPT_CLIENTS = 32
#: How long an idle connection is kept: shorter than the idle timeouts servers commonly have
#: (5 s and up), so a kept connection is not closed by its server as a request goes out on it.
KEEPALIVE_S = 2.0
#: Response headers a provider may name its message id in.
MESSAGE_ID_HEADERS = ("X-Request-Id", "Request-Id", "X-Message-Id")


def webhook_body(channel: str, message: Message) -> bytes:
    """The JSON a webhook receives (documented in docs/architecture.md)."""
    document = {
        "id": message.idempotency_key,
        "channel": channel,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "data": message.data,
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def _transport_failure(error: httpx.TransportError, host: str) -> Outcome:
    if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
        return failed(ErrorClass.RETRYABLE, f"connecting to {host} timed out")
    if isinstance(error, httpx.TimeoutException):
        return failed(ErrorClass.RETRYABLE, f"{host} did not answer in time", maybe_delivered=True)
    if isinstance(error, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in str(error):
            return failed(
                ErrorClass.PERMANENT,
                f"{host}'s TLS certificate is not trusted; add its CA to TASKYARD_NOTIFY_CA_FILE",
            )
        return failed(ErrorClass.RETRYABLE, f"could not connect to {host} ({error})")
    if isinstance(error, httpx.UnsupportedProtocol):
        return failed(ErrorClass.PERMANENT, f"unsupported protocol for {host}")
    return failed(
        ErrorClass.RETRYABLE,
        f"the connection to {host} failed after the request was sent ({type(error).__name__})",
        maybe_delivered=True,
    )


@lru_cache(maxsize=KEPT_CLIENTS)
def _client(host: str, context: ssl.SSLContext) -> httpx.Client:
    """This process's client for requests to ``host``: its pool keeps connections open between
    sends (keyed by the pinned address, not the host name, hence a client per host name, so a
    kept TLS connection only carries requests for the name its certificate was checked for).
    A client dropped from the cache is closed by the garbage collector."""
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE_S)
    return httpx.Client(verify=context, trust_env=False, follow_redirects=False, limits=limits)


# A child of a fork must not share its parent's sockets.
os.register_at_fork(after_in_child=_client.cache_clear)


def pinned_request(
    method: str,
    url: str,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """``method`` ``url`` through this process's client for its host, pinned to a checked
    address (:class:`OutboundRefused` when it may not be reached), with the URL's ``Host`` and
    TLS server name; redirects are not followed. A failed exchange is ``httpx.TransportError``."""
    target = httpx.URL(url)
    host = target.host
    port = target.port or (443 if target.scheme == "https" else 80)
    address = checked_addresses(host, port)[0]
    pinned = target.copy_with(host=str(address))
    sent_headers = {"User-Agent": USER_AGENT, **(headers or {}),
                    "Host": target.netloc.decode("ascii")}  # fmt: skip
    # The TLS server name (and certificate check) stays the host's, not the pinned address's.
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    client = _client(host.lower(), tls_context())
    return client.request(
        method, pinned, content=content, params=params, headers=sent_headers,
        extensions=extensions, timeout=timeout,
    )  # fmt: skip


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST ``body`` (JSON) to ``url``, pinned to a checked address, and classify the answer."""
    sent_headers = {"Content-Type": "application/json", **headers}
    timeout = get_settings().notify_timeout_s
    try:
        response = pinned_request("POST", url, content=body, headers=sent_headers, timeout=timeout)
    except httpx.TransportError as error:
        return _transport_failure(error, httpx.URL(url).host)
    message_id = next((response.headers[h] for h in MESSAGE_ID_HEADERS if h in response.headers),
                      None)  # fmt: skip
    return classify_status(response.status_code, response.headers.get("Retry-After"), message_id)


def send_webhook(name: str, config: WebhookConfig, message: Message) -> Outcome:
    """POST the message as signed JSON, its idempotency key in ``Idempotency-Key``."""
    body = webhook_body(name, message)
    headers = {
        HEADER: sign(config.secret.get_secret_value(), body),
        IDEMPOTENCY_HEADER: message.idempotency_key,
    }
    return post_json(config.url, body, headers)


def send_slack(name: str, config: SlackConfig, message: Message) -> Outcome:
    """POST the message to a Slack incoming webhook (subject in bold, then the text)."""
    text = f"*{message.subject}*\n{message.text}" if message.subject else message.text
    body = json.dumps({"text": text}).encode()
    return post_json(config.url.get_secret_value(), body, {})


def send_apprise(name: str, config: AppriseConfig, message: Message) -> Outcome:
    """Notify through Apprise; its answer is yes or no, so a no is retryable with its reason."""
    plugin = apprise_plugin(config.url.get_secret_value())
    if plugin is None:
        return failed(ErrorClass.PERMANENT, "Apprise cannot read the channel's URL")
    check_target(config, when_saving=False)
    notifier = apprise.Apprise()
    notifier.add(plugin)
    capture = apprise.LogCapture(  # type: ignore[no-untyped-call]
        level=apprise.logging.WARNING, fmt="%(message)s"
    )
    with capture as captured:
        ok = notifier.notify(title=message.subject, body=message.text)
    if ok:
        return delivered()
    lines = [line for line in captured.getvalue().splitlines() if line.strip()]
    reason = lines[-1] if lines else "no reason given"
    return failed(ErrorClass.RETRYABLE, f"Apprise could not deliver: {reason}")


def _by_kind(name: str, config: ChannelConfig, message: Message) -> Outcome:
    if isinstance(config, EmailConfig):
        return send_email(config, message)
    senders: dict[type[Any], Callable[[str, Any, Message], Outcome]] = {
        WebhookConfig: send_webhook, SlackConfig: send_slack, AppriseConfig: send_apprise,
    }  # fmt: skip
    return senders[type(config)](name, config, message)


def send(name: str, config: ChannelConfig, message: Message) -> Outcome:
    """Send ``message`` through channel ``name``; never raises for a failed send, and no
    secret of the channel reaches a log line or the outcome."""
    secrets = list(split(config)[1].values())
    started = time.monotonic()
    with redacting(secrets):
        try:
            outcome = _by_kind(name, config, message)
        except OutboundRefused as error:
            outcome = failed(ErrorClass.PERMANENT, error.message)
        except TargetUnresolved as error:
            outcome = failed(ErrorClass.RETRYABLE, error.message)
    return replace(
        outcome, error=redact(outcome.error, secrets), duration_s=time.monotonic() - started
    )
