"""Sending a message by SMTP: STARTTLS, implicit TLS or none, optional login; every SMTP
failure classified (4xx and connection trouble retryable, 5xx and refusals permanent)."""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from tasks.notifications.channels import EmailConfig
from tasks.notifications.message import Message, tls_context
from tasks.notifications.outbound import checked_addresses
from tasks.notifications.outcomes import ErrorClass, Outcome, delivered, failed
from workers.settings import get_settings

_SAFE_KEY = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: The SMTP answer code recorded for a delivered message (the server's "250 OK").
ACCEPTED = 250


def message_id(idempotency_key: str, sender: str) -> str:
    """A ``Message-ID`` derived from the key, so a repeat carries the same id."""
    key = idempotency_key
    if not _SAFE_KEY.fullmatch(key):
        key = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<taskyard.{key}@{sender.rpartition('@')[2]}>"


def build(config: EmailConfig, message: Message) -> EmailMessage:
    """The email for ``message`` from the channel's sender to its recipients."""
    email = EmailMessage()
    email["Subject"] = " ".join(message.subject.split())
    email["From"] = config.sender
    email["To"] = ", ".join(config.recipients)
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message_id(message.idempotency_key, config.sender)
    email.set_content(message.text)
    if message.html is not None:
        email.add_alternative(message.html, subtype="html")
    return email


def _connect(config: EmailConfig, context: ssl.SSLContext) -> smtplib.SMTP:
    timeout = get_settings().notify_timeout_s
    if config.security == "tls":
        return smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
    return smtplib.SMTP(config.host, config.port, timeout=timeout)


def _transmit(config: EmailConfig, email: EmailMessage, stage: list[str]) -> dict[str, object]:
    context = tls_context()
    with _connect(config, context) as client:
        if config.security == "starttls":
            stage[0] = "starttls"
            client.starttls(context=context)
        if config.username is not None:
            stage[0] = "login"
            password = config.password.get_secret_value() if config.password else ""
            client.login(config.username, password)
        stage[0] = "send"
        return dict(client.send_message(email))


def _answer(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else ""
    return f"{error.smtp_code} {' '.join(text.split())}".strip()


def _failure(error: OSError, stage: str, config: EmailConfig) -> Outcome:
    """What an SMTP error at ``stage`` means for a retry (smtplib's and ssl's errors are all
    ``OSError``s)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        who = ", ".join(sorted(error.recipients))
        return failed(ErrorClass.PERMANENT, f"every recipient was refused ({who})")
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return failed(
            ErrorClass.PERMANENT,
            f"the server refused the login ({_answer(error)}); check username and password",
            status_code=error.smtp_code,
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return failed(
            ErrorClass.PERMANENT,
            f"the server does not support {stage}; check the channel's security and port",
        )
    if isinstance(error, smtplib.SMTPResponseException):
        permanent = 500 <= error.smtp_code < 600
        kind = ErrorClass.PERMANENT if permanent else ErrorClass.RETRYABLE
        return failed(kind, f"the server answered {_answer(error)}", status_code=error.smtp_code)
    if isinstance(error, ssl.SSLCertVerificationError):
        return failed(
            ErrorClass.PERMANENT,
            f"the server's certificate is not trusted ({error.verify_message}); "
            "add its CA to TASKYARD_NOTIFY_CA_FILE",
        )
    if isinstance(error, ssl.SSLError):
        return failed(
            ErrorClass.PERMANENT,
            f"the TLS handshake failed ({error.reason}); check the channel's security and port",
        )
    what = "timed out" if isinstance(error, TimeoutError) else f"failed ({error})"
    return failed(
        ErrorClass.RETRYABLE,
        f"the SMTP {stage} with {config.host}:{config.port} {what}",
        maybe_delivered=stage == "send",
    )


def send_email(config: EmailConfig, message: Message) -> Outcome:
    """Send ``message`` by SMTP to every recipient of ``config``."""
    checked_addresses(config.host, config.port)
    email = build(config, message)
    stage = ["connect"]
    try:
        refused = _transmit(config, email, stage)
    except OSError as error:
        return _failure(error, stage[0], config)
    if refused:
        who = ", ".join(sorted(refused))
        return failed(
            ErrorClass.PERMANENT,
            f"{len(refused)} of {len(config.recipients)} recipients were refused ({who}); "
            "the others received it",
            maybe_delivered=True,
        )
    return delivered(ACCEPTED, email["Message-ID"])
