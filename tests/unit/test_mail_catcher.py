"""The mail catcher's files: one whole ``.eml`` per message, written through a hidden partial
file and a rename, under names that sort by arrival and never repeat; one log line per message
(envelope and subject, never the body); and no input that makes it fail."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli import mailcatcher
from cli.mailcatcher import (
    ACCEPTED,
    EML,
    NOT_WRITTEN,
    MailCatcher,
    message_name,
    subject_of,
    write_message,
)

MESSAGE = (
    b"From: taskyard@localhost\r\nTo: dev@localhost\r\n"
    b"Subject: =?utf-8?q?Welcome_to_Taskyard=2C_Ad=C3=A1?=\r\n\r\n"
    b"the body, which no log line shows\r\n"
)


def files(directory: Path) -> list[str]:
    """Every entry of ``directory``, hidden ones included."""
    return sorted(os.listdir(directory))


def deliver(directory: Path, content: bytes, mail_from: str = "taskyard@localhost",
            rcpt_tos: tuple[str, ...] = ("dev@localhost",)) -> str:  # fmt: skip
    """What the catcher answers to ``content`` arriving with that envelope."""
    envelope = SimpleNamespace(
        mail_from=mail_from, rcpt_tos=list(rcpt_tos), original_content=content
    )
    return asyncio.run(MailCatcher(directory).handle_DATA(None, None, envelope))


def test_names_sort_by_arrival_and_never_repeat() -> None:
    # Given arrivals a microsecond apart, and many at one instant
    start = datetime(2026, 12, 7, 4, 40, 9, 999_999, tzinfo=UTC)
    later = [message_name(start + timedelta(microseconds=n)) for n in range(3)]
    same = {message_name(start) for _ in range(1000)}

    # Then names sort as the arrivals do, and none repeats
    assert later == sorted(later)
    assert later[0].startswith("20261207T044009.999999Z-")
    assert later[1].startswith("20261207T044010.000000Z-")
    assert all(name.endswith(EML) for name in later)
    assert len(same) == 1000


def test_a_message_is_written_whole_and_only_under_its_final_name(tmp_path: Path) -> None:
    # When two messages are written
    first = write_message(tmp_path / "mail", MESSAGE)
    second = write_message(tmp_path / "mail", b"x" * 200_000)

    # Then each is one file holding exactly its bytes, and no partial file is left
    assert first.read_bytes() == MESSAGE
    assert second.read_bytes() == b"x" * 200_000
    assert files(tmp_path / "mail") == sorted([first.name, second.name])


def test_a_write_that_fails_half_way_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a disk that fills up after the first 10 bytes
    real_write = os.write
    calls = []

    def full_disk(descriptor: int, data: bytes | memoryview) -> int:
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(descriptor, bytes(data[:10]))

    monkeypatch.setattr(mailcatcher.os, "write", full_disk)

    # When a message is written, then the error shows, and no file, whole or partial, is left
    with pytest.raises(OSError, match="No space left"):
        write_message(tmp_path, MESSAGE)
    assert files(tmp_path) == []


def test_a_message_never_replaces_another(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given a name that is taken already (two arrivals drawing the same name)
    taken = tmp_path / f"20261207T044009.000000Z-00000000{EML}"
    taken.write_bytes(b"the first message")
    monkeypatch.setattr(mailcatcher, "message_name", lambda now: taken.name)

    # When another message gets that name, then it fails and the first is kept as it was
    with pytest.raises(FileExistsError):
        write_message(tmp_path, MESSAGE)
    assert taken.read_bytes() == b"the first message"
    assert files(tmp_path) == [taken.name]


def test_the_catcher_keeps_the_envelope_and_the_bytes_and_logs_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # When a message arrives for a recipient in To and one in Bcc only
    with caplog.at_level(logging.INFO, logger="cli.mailcatcher"):
        answer = deliver(tmp_path, MESSAGE, rcpt_tos=("dev@localhost", "bcc@localhost"))

    # Then it is accepted and kept as sent, after the envelope
    assert answer == ACCEPTED
    [kept] = tmp_path.iterdir()
    assert kept.read_bytes() == (
        b"X-MailFrom: taskyard@localhost\r\nX-RcptTo: dev@localhost, bcc@localhost\r\n" + MESSAGE
    )
    # And one log line names sender, recipients, decoded subject and file, never the body
    [record] = caplog.records
    assert record.action == "mail.received"  # type: ignore[attr-defined]
    line = record.getMessage()
    assert "taskyard@localhost" in line
    assert "dev@localhost, bcc@localhost" in line
    assert "Welcome to Taskyard, Adá" in line
    assert kept.name in line
    assert "body" not in line
    assert "\n" not in line


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"no headers, no blank line, \x00\xff\xfe binary", id="binary"),
        pytest.param(b"Subject: =?x-unknown?q?=FF?=\r\n\r\n", id="unknown-charset"),
        pytest.param(b"Subject: =?utf-8?b?not base64!?=\r\n\r\n", id="broken-encoded-word"),
        pytest.param(b"Subject: a\r\n\tb\r\n\x1b[31mred\r\n\r\n", id="folded-with-escapes"),
        pytest.param(b"Subject: " + b"long " * 100_000 + b"\r\n\r\n", id="huge-subject"),
    ],
)
def test_a_malformed_message_is_kept_as_it_came(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    # When a malformed message arrives, with an envelope holding control characters
    with caplog.at_level(logging.INFO, logger="cli.mailcatcher"):
        answer = deliver(tmp_path, content, mail_from="odd\rsender@x")

    # Then it is accepted and kept byte for byte, and logged in one bounded line
    assert answer == ACCEPTED
    [kept] = tmp_path.iterdir()
    assert kept.read_bytes() == b"X-MailFrom: odd sender@x\r\nX-RcptTo: dev@localhost\r\n" + content
    [record] = caplog.records
    assert "\n" not in record.getMessage()
    assert "\r" not in record.getMessage()
    assert len(record.getMessage()) < 1000


def test_a_message_that_cannot_be_written_is_refused_for_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the directory is a file (unwritable as a directory)
    blocked = tmp_path / "mail"
    blocked.write_text("not a directory")

    # When a message arrives, then it is refused with a 451 (the client tries again later)
    with caplog.at_level(logging.INFO, logger="cli.mailcatcher"):
        assert deliver(blocked, MESSAGE) == NOT_WRITTEN
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.action == "mail.unwritable"  # type: ignore[attr-defined]

    # And the catcher takes the next message once the directory is back
    blocked.unlink()
    assert deliver(blocked, MESSAGE) == ACCEPTED


@given(st.binary(max_size=2000))
def test_reading_a_subject_never_fails(content: bytes) -> None:
    subject = subject_of(b"Subject: " + content)

    assert "\n" not in subject
    assert "\r" not in subject
    assert len(subject) <= mailcatcher.LOGGED_SUBJECT
