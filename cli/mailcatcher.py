"""``taskyard mail-catcher``: an SMTP server on loopback (aiosmtpd) that keeps every message it
receives as one ``.eml`` file, so the dev stack's ``dev-mail`` channel needs no mail account.

Each message is written whole, envelope first (``X-MailFrom``, ``X-RcptTo``, as aiosmtpd's own
handlers name them), to a hidden partial file that is then renamed: a reader of the directory
sees whole messages only. Names sort by arrival (UTC to the microsecond) and end in a random
tail, so two messages never share a file. A message is logged in one line (envelope and
subject, never the body). Whatever a client sends, the server stays up: aiosmtpd answers bad
commands itself, the raw bytes are kept as they came, and a message that cannot be written is
refused with a 451 (try later). aiosmtpd comes with the ``embedded`` extra (``make install``
installs it); without it the CLI works and only this command refuses, in one line.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import secrets
import signal
import threading
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from cli.output import CliError
from cli.paths import var_dir
from workers.observability.logging import configure_logging
from workers.settings import get_settings

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)

#: The catcher's directory under the var directory.
MAIL_DIR = "mail"
#: The port the dev stack asks for first (the usual one for a local mail catcher).
DEFAULT_MAIL_PORT = 1025
EML = ".eml"
#: The longest subject (in characters) a log line shows.
LOGGED_SUBJECT = 200
ACCEPTED = "250 Message accepted for delivery"
NOT_WRITTEN = "451 Requested action aborted: local error in processing"
NO_AIOSMTPD = "the mail catcher needs aiosmtpd: `pip install 'taskyard[embedded]'` (make install)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def message_name(now: datetime) -> str:
    """``20261207T044012.123456Z-3f9a1c2e.eml``: sorts by arrival; the random tail keeps two
    messages of one microsecond apart."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(4)}{EML}"


def write_message(directory: Path, content: bytes, now: datetime | None = None) -> Path:
    """Write ``content`` as a new ``.eml`` file in ``directory``, atomically (a hidden partial
    file, then a rename that never replaces another message); the file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / message_name(now or datetime.now(UTC))
    partial = directory / f".{path.name}.partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(descriptor, view) :]
        finally:
            os.close(descriptor)
        os.link(partial, path)  # unlike a rename, fails rather than replace an existing file
    finally:
        partial.unlink(missing_ok=True)
    return path


def one_line(text: str, limit: int = LOGGED_SUBJECT) -> str:
    """``text`` with control characters as spaces, cut to ``limit`` characters (for a log)."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else f"{flat[: limit - 1]}…"


def subject_of(content: bytes) -> str:
    """The message's decoded ``Subject`` (empty when it has none), for the log line only."""
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(content)
        return one_line(str(headers.get("Subject", "")))
    except Exception:  # a header the parser chokes on must not refuse the message: show it raw
        raw = re.search(rb"^Subject:[ \t]*(.*)$", content, re.MULTILINE | re.IGNORECASE)
        return one_line(raw.group(1).decode("utf-8", "replace")) if raw else ""


def envelope_lines(mail_from: str | None, rcpt_tos: list[str]) -> bytes:
    """The envelope as the header lines put before the message (so a Bcc shows too)."""
    lines = [f"X-MailFrom: {one_line(mail_from or '', 1000)}",
             f"X-RcptTo: {one_line(', '.join(rcpt_tos), 10_000)}"]  # fmt: skip
    return "".join(f"{line}\r\n" for line in lines).encode("utf-8", "replace")


class MailCatcher:
    """The aiosmtpd handler: each message accepted becomes one ``.eml`` file in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message as one file and log it; 451 when it cannot be written."""
        content = envelope.original_content or b""
        sender, recipients = envelope.mail_from, list(envelope.rcpt_tos)
        try:
            path = write_message(self.directory, envelope_lines(sender, recipients) + content)
        except OSError as error:
            log.error(
                "mail from %s not kept: %s", one_line(sender or ""), error.strerror or error,
                extra={"action": "mail.unwritable", "directory": str(self.directory)},
            )  # fmt: skip
            return NOT_WRITTEN
        subject = subject_of(content)
        log.info(
            "mail from %s to %s, subject %r: %s", one_line(sender or ""),
            one_line(", ".join(recipients)), subject, path,
            extra={"action": "mail.received", "mail_from": sender, "rcpt_to": recipients,
                   "subject": subject, "file": path.name},
        )  # fmt: skip
        return ACCEPTED


def available() -> bool:
    """Whether aiosmtpd is installed (the ``embedded`` extra)."""
    return importlib.util.find_spec("aiosmtpd") is not None


def controller(directory: Path, host: str, port: int) -> Controller:
    """aiosmtpd serving :class:`MailCatcher` on ``host:port`` (not started)."""
    if not available():
        raise CliError(NO_AIOSMTPD)
    # Imported here, not at the top: aiosmtpd is optional, and every `taskyard` command
    # imports this module.
    from aiosmtpd.controller import Controller

    # server_hostname: without it aiosmtpd asks DNS for this machine's name on every connection.
    return Controller(MailCatcher(directory), hostname=host, port=port, server_hostname="localhost")


@click.command(name="mail-catcher")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_MAIL_PORT,
              show_default=True)  # fmt: skip
@click.option(
    "--directory", type=click.Path(file_okay=False, path_type=Path),
    help="Where messages go  [default: mail in $TASKYARD_VAR_DIR (./var)]",
)  # fmt: skip
def mail_catcher(host: str, port: int, directory: Path | None) -> None:
    """Receive email by SMTP (no TLS, no login) and keep each message as an .eml file.

    `taskyard dev` runs it for the dev-mail channel. Files are named by arrival time
    (`ls` lists them oldest first); each message is one log line (from, to, subject). Stops on
    Ctrl-C or SIGTERM.
    """
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
    target = (directory or var_dir() / MAIL_DIR).resolve()
    target.mkdir(parents=True, exist_ok=True)
    server = controller(target, host, port)
    try:
        server.start()
    except OSError as error:
        raise CliError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "mail catcher on %s:%d, keeping messages in %s", host, port, target,
        extra={"action": "mail.listening", "port": port, "directory": str(target)},
    )  # fmt: skip
    try:
        stop.wait()
    finally:
        server.stop()
