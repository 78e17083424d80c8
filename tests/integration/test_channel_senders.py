"""Each channel kind against a real receiver on loopback: aiosmtpd (plain, STARTTLS with a
certificate made here, implicit TLS), an HTTP sink checking webhook signatures, Slack and
Apprise to the sink; every answer classified, and no secret in a log line or an error."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest

from tasks.notifications.channels import ChannelConfig, parse_config
from tasks.notifications.message import Message, channel_test_message
from tasks.notifications.outcomes import ErrorClass, Outcome
from tasks.notifications.senders import send
from tasks.notifications.signing import HEADER, sign
from tests.support.sinks import (
    HttpSink,
    SelfSignedCertificate,
    free_port,
    http_sink,
    make_certificate,
    smtp_server,
)
from workers.settings import get_settings

HOOK_SECRET = "whsec-loopback-0123456789"
PASSWORD = "smtp-pw-hunter2-xyz"
SLACK_PATH = "/services/T0LOOP/B0LOOP/slacktokensecret42"
APPRISE_PATH = "/apprise/tokensecret77"
LOOPBACK = "127.0.0.0/8,::1,localhost"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(autouse=True)
def settings(certificate: SelfSignedCertificate) -> Iterator[None]:
    """Loopback opened (as in dev and tests), the test CA trusted, sends time out after 1 s."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASKYARD_OUTBOUND_ALLOW", LOOPBACK)
        patch.setenv("TASKYARD_NOTIFY_CA_FILE", str(certificate.cert))
        patch.setenv("TASKYARD_NOTIFY_TIMEOUT_S", "1")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with http_sink(HOOK_SECRET) as running:
        yield running


@pytest.fixture
def plain_sink() -> Iterator[HttpSink]:
    with http_sink() as running:
        yield running


def email(port: int, security: str, **extra: object) -> ChannelConfig:
    recipients = ["ops@example.com", "dev@example.com"]
    return parse_config({"kind": "email", "host": "localhost", "port": port, "security": security,
                         "sender": "taskyard@example.com", "recipients": recipients,
                         **extra})  # fmt: skip


def webhook(sink: HttpSink, secret: str = HOOK_SECRET) -> ChannelConfig:
    return parse_config({"kind": "webhook", "url": f"{sink.url}/hook", "secret": secret})


def no_secret_in(outcome: Outcome, caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    text = f"{outcome.error} " + "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in text


# Email


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_email_arrives_with_its_headers(security: str, certificate: SelfSignedCertificate) -> None:
    login = {"username": "ops", "password": PASSWORD} if security != "none" else {}
    credentials = ("ops", PASSWORD) if login else None
    message = Message(subject="Disk  full\non db-1", text="92 % used", html="<b>92 %</b>",
                      idempotency_key="delivery-42")  # fmt: skip

    with smtp_server(security, certificate, credentials) as mailbox:
        outcome = send("ops-mail", email(mailbox.port, security, **login), message)

    assert outcome.ok, outcome
    assert outcome.status_code == 250
    assert outcome.message_id == "<taskyard.delivery-42@example.com>"
    [(sender, recipients, received)] = mailbox.messages
    assert (sender, recipients) == ("taskyard@example.com", ["ops@example.com", "dev@example.com"])
    assert received["Subject"] == "Disk full on db-1"
    assert received["From"] == "taskyard@example.com"
    assert received["To"] == "ops@example.com, dev@example.com"
    assert received["Message-ID"] == outcome.message_id
    assert received["Date"]
    assert received.is_multipart()
    assert mailbox.logins == (["ops"] if login else [])


def test_a_certificate_nobody_trusts_is_a_permanent_failure(
    certificate: SelfSignedCertificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TASKYARD_NOTIFY_CA_FILE")
    get_settings.cache_clear()

    with smtp_server("starttls", certificate) as mailbox:
        outcome = send(
            "ops-mail", email(mailbox.port, "starttls"), channel_test_message("ops-mail")
        )

    assert (outcome.ok, outcome.error_class) == (False, ErrorClass.PERMANENT)
    assert "certificate is not trusted" in str(outcome.error)
    assert mailbox.messages == []


def test_a_wrong_password_fails_at_once_without_saying_it(
    certificate: SelfSignedCertificate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with smtp_server("starttls", certificate, ("ops", PASSWORD)) as mailbox:
        config = email(mailbox.port, "starttls", username="ops", password=f"wrong-{PASSWORD}")
        outcome = send("ops-mail", config, channel_test_message("ops-mail"))

    assert (outcome.ok, outcome.error_class, outcome.status_code) == (
        False, ErrorClass.PERMANENT, 535)  # fmt: skip
    assert "check username and password" in str(outcome.error)
    no_secret_in(outcome, caplog, PASSWORD)


def test_refused_recipients_fail_permanently(certificate: SelfSignedCertificate) -> None:
    with smtp_server() as mailbox:
        mailbox.refuse = {"dev@example.com"}
        some = send("ops-mail", email(mailbox.port, "none"), channel_test_message("ops-mail"))
        mailbox.refuse = {"dev@example.com", "ops@example.com"}
        every = send("ops-mail", email(mailbox.port, "none"), channel_test_message("ops-mail"))

    assert (some.ok, some.error_class, some.maybe_delivered) == (False, ErrorClass.PERMANENT, True)
    assert "1 of 2 recipients were refused (dev@example.com)" in str(some.error)
    assert (every.error_class, every.maybe_delivered) == (ErrorClass.PERMANENT, False)
    assert len(mailbox.messages) == 1


def test_nothing_listening_is_retryable() -> None:
    outcome = send("ops-mail", email(free_port(), "none"), channel_test_message("ops-mail"))

    assert (outcome.ok, outcome.error_class, outcome.maybe_delivered) == (
        False, ErrorClass.RETRYABLE, False)  # fmt: skip


# Webhooks


def test_a_webhook_is_signed_and_carries_its_idempotency_key(sink: HttpSink) -> None:
    message = Message(subject="Job died", text="billing.charge is dead", data={"job": "j1"},
                      idempotency_key="delivery-7")  # fmt: skip

    outcome = send("hooks", webhook(sink), message)

    assert outcome.ok, outcome
    assert outcome.status_code == 200
    [request] = sink.received
    assert sink.refused == []
    assert request.path == "/hook"
    assert request.headers["Idempotency-Key"] == "delivery-7"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert (body["id"], body["channel"], body["subject"], body["data"]) == (
        "delivery-7", "hooks", "Job died", {"job": "j1"})  # fmt: skip


def test_the_receiver_refuses_a_forged_or_replayed_request(sink: HttpSink) -> None:
    forged = send(
        "hooks", webhook(sink, secret="not-the-secret-000"), channel_test_message("hooks")
    )
    assert (forged.status_code, forged.error_class) == (401, ErrorClass.PERMANENT)
    assert "no signature matches" in sink.refused[-1]

    # A request captured in transit, sent again ten minutes later, signature and all.
    body = b'{"id":"delivery-7"}'
    stale = sign(HOOK_SECRET, body, int(time.time()) - 600)
    replay = httpx.post(f"{sink.url}/hook", content=body, headers={HEADER: stale})
    assert replay.status_code == 401
    assert "a replay" in sink.refused[-1]
    assert sink.received == []


@pytest.mark.parametrize(
    ("answer", "status", "error_class", "retry_after_s", "maybe_delivered"),
    [
        ("500", 500, ErrorClass.RETRYABLE, None, False),
        ("429", 429, ErrorClass.RETRYABLE, 7.0, False),
        ("400", 400, ErrorClass.PERMANENT, None, False),
        ("hang", None, ErrorClass.RETRYABLE, None, True),
    ],
)
def test_each_answer_is_classified(
    sink: HttpSink,
    answer: str,
    status: int | None,
    error_class: ErrorClass,
    retry_after_s: float | None,
    maybe_delivered: bool,
) -> None:
    sink.answer = answer

    outcome = send("hooks", webhook(sink), channel_test_message("hooks"))

    assert not outcome.ok
    assert (outcome.status_code, outcome.error_class) == (status, error_class)
    assert (outcome.retry_after_s, outcome.maybe_delivered) == (retry_after_s, maybe_delivered)
    assert len(sink.received) == 1


def test_https_is_pinned_to_the_checked_address_and_verifies_the_host(
    certificate: SelfSignedCertificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    with http_sink(HOOK_SECRET, certificate) as tls_sink:
        trusted = send("hooks", webhook(tls_sink), channel_test_message("hooks"))
        monkeypatch.delenv("TASKYARD_NOTIFY_CA_FILE")
        get_settings.cache_clear()
        untrusted = send("hooks", webhook(tls_sink), channel_test_message("hooks"))

    assert trusted.ok, trusted
    [request] = tls_sink.received
    assert request.headers["Host"] == tls_sink.url.removeprefix("https://")
    assert (untrusted.ok, untrusted.error_class) == (False, ErrorClass.PERMANENT)
    assert "certificate is not trusted" in str(untrusted.error)


def test_a_host_keeps_its_connection_and_another_name_for_its_address_gets_its_own(
    certificate: SelfSignedCertificate,
) -> None:
    # Given an HTTPS receiver that keeps connections open, its certificate for localhost only
    with http_sink(HOOK_SECRET, certificate, keep_alive=True) as tls_sink:
        # When two messages go to it by its name, then one by its address (the same one)
        first = send("hooks", webhook(tls_sink), channel_test_message("hooks"))
        second = send("hooks", webhook(tls_sink), channel_test_message("hooks"))
        by_address = tls_sink.url.replace("localhost", "127.0.0.1")
        other = parse_config({"kind": "webhook", "url": by_address, "secret": HOOK_SECRET})
        third = send("hooks", other, channel_test_message("hooks"))

    # Then the second went over the first one's connection
    assert (first.ok, second.ok) == (True, True), (first, second)
    assert tls_sink.received[0].client_port == tls_sink.received[1].client_port
    # And the third was not: the kept connection's certificate was checked for localhost only
    assert (third.ok, third.error_class) == (False, ErrorClass.PERMANENT)
    assert "certificate is not trusted" in str(third.error)
    assert len(tls_sink.received) == 2


# Slack and Apprise


def test_slack_posts_its_text_and_keeps_its_url_secret(
    plain_sink: HttpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = parse_config({"kind": "slack", "url": f"{plain_sink.url}{SLACK_PATH}"})

    outcome = send("team", config, Message(subject="Deploy", text="v2 is out"))
    plain_sink.answer = "404"
    missing = send("team", config, Message(subject="Deploy", text="v2 is out"))

    assert outcome.ok, outcome
    assert plain_sink.received[0].path == SLACK_PATH
    assert json.loads(plain_sink.received[0].body) == {"text": "*Deploy*\nv2 is out"}
    assert (missing.ok, missing.error_class) == (False, ErrorClass.PERMANENT)
    no_secret_in(missing, caplog, SLACK_PATH, "slacktokensecret42")


def test_apprise_delivers_through_its_json_service(
    plain_sink: HttpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = plain_sink.url.rsplit(":", 1)[1]
    config = parse_config({"kind": "apprise", "url": f"json://127.0.0.1:{port}{APPRISE_PATH}"})

    outcome = send("long-tail", config, Message(subject="Backup", text="done in 42 s"))
    plain_sink.answer = "500"
    broken = send("long-tail", config, Message(subject="Backup", text="done in 42 s"))

    assert outcome.ok, outcome
    received = json.loads(plain_sink.received[0].body)
    assert (received["title"], received["message"]) == ("Backup", "done in 42 s")
    assert (broken.ok, broken.error_class) == (False, ErrorClass.RETRYABLE)
    assert "500" in str(broken.error)
    no_secret_in(broken, caplog, APPRISE_PATH, "tokensecret77")


# Outbound checks at send time


def test_a_target_is_checked_again_when_sending(
    sink: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{sink.url.replace('127.0.0.1', 'localhost')}/hook"
    config = parse_config({"kind": "webhook", "url": url, "secret": HOOK_SECRET})
    assert send("hooks", config, channel_test_message("hooks")).ok

    monkeypatch.setenv("TASKYARD_OUTBOUND_ALLOW", "")
    get_settings.cache_clear()
    refused = send("hooks", config, channel_test_message("hooks"))

    assert (refused.ok, refused.error_class) == (False, ErrorClass.PERMANENT)
    assert "localhost resolves to 127.0.0.1, a loopback address" in str(refused.error)
    assert len(sink.received) == 1


@pytest.mark.parametrize(
    ("url", "kind"),
    [("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
     ("http://[fd00:ec2::254]/", "cloud metadata"), ("http://10.11.12.13/", "private"),
     ("http://169.254.7.7/", "link-local")],
)  # fmt: skip
def test_refused_targets_are_never_contacted(url: str, kind: str) -> None:
    config = parse_config({"kind": "webhook", "url": url, "secret": HOOK_SECRET})

    outcome = send("hooks", config, channel_test_message("hooks"))

    assert (outcome.error_class, outcome.status_code) == (ErrorClass.PERMANENT, None)
    assert f"a {kind} address" in str(outcome.error)
    assert outcome.duration_s < 0.5
