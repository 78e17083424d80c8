"""The dev stack's mail on a real aiosmtpd on loopback: nothing a client sends stops the
catcher; ``dev-mail`` and ``welcome`` are made once, on both stores, and ``dev-mail`` follows
the catcher's port; ``taskyard channels test dev-mail`` lands as an ``.eml`` file."""

from __future__ import annotations

import os
import smtplib
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest

from cli.devmail import (
    DEV_MAIL_CHANNEL,
    DEV_MAIL_RECIPIENT,
    DEV_MAIL_SENDER,
    WELCOME,
    ensure_dev_mail,
)
from cli.mailcatcher import EML, controller
from tasks.notifications import store, template_store
from tasks.notifications.errors import ChannelNotFound, TemplateNotFound
from tests.support.channels import channel_settings
from tests.support.cli import run
from tests.support.sinks import free_port

LOOPBACK = "127.0.0.1"
READ_TIMEOUT_S = 10
ENVELOPE = b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
BINARY = b"no headers\n\x00\xff binary\nSubject: late"


@contextmanager
def running_catcher(directory: Path) -> Iterator[int]:
    """The mail catcher on a free loopback port, keeping messages in ``directory``."""
    port = free_port()
    server = controller(directory, LOOPBACK, port)
    server.start()
    try:
        yield port
    finally:
        server.stop()


def talk(port: int, sent: bytes, *, close_early: bool = False) -> bytes:
    """Send ``sent`` raw over one SMTP connection; what the server answered until it hung up
    (or, with ``close_early``, until we did, half-way through)."""
    with socket.create_connection((LOOPBACK, port), timeout=READ_TIMEOUT_S) as connection:
        connection.sendall(sent)
        if close_early:
            return connection.recv(65_536)
        connection.shutdown(socket.SHUT_WR)
        answers = b""
        with suppress(ConnectionResetError):
            while chunk := connection.recv(65_536):
                answers += chunk
        return answers


def good_message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, "app@localhost", "me@localhost"
    message.set_content("hello")
    return message


def test_nothing_a_client_sends_stops_the_catcher(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    with running_catcher(mail) as port:
        # When clients send garbage, an endless line, commands out of order, bad addresses,
        # a binary message with bare LFs, and a message cut off half-way
        garbage = talk(port, b"\x00\xff\xfe\x16\x03\x01 hello?\r\nHELO\r\nQUIT\r\n")
        endless = talk(port, b"EHLO x\r\n" + b"A" * 100_000)
        disorder = talk(port, b"DATA\r\nRCPT TO:<a@b>\r\nMAIL FROM:<bad address\r\nQUIT\r\n")
        binary = talk(port, ENVELOPE + BINARY + b"\r\n.\r\nQUIT\r\n")
        cut = talk(port, ENVELOPE + b"Subject: cut\r\n", close_early=True)

        # Then each got SMTP answers (refusals where due), and only the whole message was kept
        assert garbage.startswith(b"220 ")
        assert b"500 " in garbage
        assert endless.startswith(b"220 ")
        assert b"503 " in disorder
        assert b"250 Message accepted" in binary
        assert cut.startswith(b"220 ")
        [kept] = os.listdir(mail)
        assert (mail / kept).read_bytes().endswith(BINARY + b"\r\n")

        # And the catcher still takes a well-formed message
        with smtplib.SMTP(LOOPBACK, port, timeout=READ_TIMEOUT_S) as client:
            client.send_message(good_message("after the storm"))
    names = sorted(os.listdir(mail))
    assert len(names) == 2
    assert all(name.endswith(EML) and not name.startswith(".") for name in names)
    assert message_from_bytes((mail / names[1]).read_bytes())["Subject"] == "after the storm"


@pytest.fixture(scope="module")
def loopback_allowed(runtime: dict[str, str]) -> Iterator[pytest.MonkeyPatch]:
    """The module's store, with loopback targets allowed as `taskyard dev` allows them."""
    with channel_settings() as patch:
        yield patch


@pytest.fixture
def no_dev_mail(loopback_allowed: pytest.MonkeyPatch) -> Iterator[None]:
    """Neither ``dev-mail`` nor ``welcome`` exists before or after the test."""

    def remove() -> None:
        with suppress(ChannelNotFound):
            store.delete_channel(store.find_channel(DEV_MAIL_CHANNEL).id)
        with suppress(TemplateNotFound):
            template_store.delete_template(template_store.find_template(WELCOME.name).id)

    remove()
    yield
    remove()


@pytest.mark.usefixtures("no_dev_mail")
def test_dev_mail_is_made_once_then_follows_the_catcher() -> None:
    # When the stack starts for the first time with its catcher on one port
    first, second = free_port(), free_port()
    assert ensure_dev_mail(LOOPBACK, first) is None

    # Then dev-mail points there, without TLS or login, and welcome sends to it by default
    channel = store.find_channel(DEV_MAIL_CHANNEL)
    assert channel.kind == "email"
    assert channel.config == {"host": LOOPBACK, "port": first, "security": "none",
                              "username": None, "sender": DEV_MAIL_SENDER,
                              "recipients": [DEV_MAIL_RECIPIENT], "rate_limit": None,
                              "idempotent": False}  # fmt: skip
    template = template_store.find_template(WELCOME.name)
    assert template.default_channels == [DEV_MAIL_CHANNEL]
    rendered = template_store.preview(template, {"name": "Grace"})
    assert rendered.subject == "Welcome to Taskyard, Grace"
    assert "Hello Grace" in rendered.text
    assert "<code>dev-mail</code>" in str(rendered.html)

    # Given the operator changed the recipients and the template since
    store.update_channel(channel.id, {"config": {"recipients": ["me@localhost"]}})
    template_store.update_template(template.id, {"subject": "Hi {{ name }}"})

    # When the stack starts again with the catcher on another port
    assert ensure_dev_mail(LOOPBACK, second) is None

    # Then dev-mail follows the port and keeps the operator's recipients; welcome is theirs
    again = store.find_channel(DEV_MAIL_CHANNEL)
    assert again.id == channel.id
    assert again.config["port"] == second
    assert again.config["recipients"] == ["me@localhost"]
    assert template_store.find_template(WELCOME.name).subject == "Hi {{ name }}"


@pytest.mark.usefixtures("no_dev_mail")
def test_a_dev_mail_that_cannot_be_made_is_a_note_not_a_failure(
    loopback_allowed: pytest.MonkeyPatch,
) -> None:
    # Given an allow-list that does not open loopback
    with channel_settings(TASKYARD_OUTBOUND_ALLOW="10.0.0.0/8"):
        # When the stack prepares its mail, then it says why dev-mail is missing
        problem = ensure_dev_mail(LOOPBACK, free_port())
    assert problem is not None
    assert "dev-mail" in problem
    assert "TASKYARD_OUTBOUND_ALLOW" in problem
    with pytest.raises(ChannelNotFound):
        store.find_channel(DEV_MAIL_CHANNEL)


@pytest.mark.usefixtures("no_dev_mail")
def test_channels_test_dev_mail_lands_in_the_catcher(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    with running_catcher(mail) as port:
        # Given dev-mail points at a running catcher
        assert ensure_dev_mail(LOOPBACK, port) is None

        # When the operator tests the channel
        tested = run("channels", "test", DEV_MAIL_CHANNEL)

    # Then it is delivered, and the message is one .eml file with the channel's headers
    assert tested.exit_code == 0, tested.output
    assert "delivered through 'dev-mail' (answer 250" in tested.stdout
    [name] = os.listdir(mail)
    kept = message_from_bytes((mail / name).read_bytes())
    assert kept["Subject"] == "Taskyard test message for channel dev-mail"
    assert kept["From"] == DEV_MAIL_SENDER
    assert kept["To"] == DEV_MAIL_RECIPIENT
    assert kept["X-MailFrom"] == DEV_MAIL_SENDER
    assert kept["X-RcptTo"] == DEV_MAIL_RECIPIENT
    assert kept["Message-ID"].endswith("@localhost>")
