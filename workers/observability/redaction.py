"""Keeping secrets only the running work knows of out of log lines, error texts and Sentry
events: a channel's secrets while it sends, a sensitive job's payload values while it runs.

The libraries a send goes through log what they do (httpx logs each request's URL, Apprise its
targets, urllib3 each request's path); a Slack or Apprise URL is itself a credential. Within
:func:`redacting`, every log record of every logger has each fragment of the secrets masked
as it is made, and :func:`mask` masks them in any text (an error recorded, a Sentry event).
Platform-wide patterns (URL passwords, bearer tokens) are masked later by
``workers.observability.scrub``; this masks what only the work knows is secret."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

MASK = "***"
#: Shorter fragments are not masked on their own (a path of "/" is no secret).
MIN_FRAGMENT = 8


def fragments(secrets: Iterable[str]) -> list[str]:
    """Each secret, and for a URL its path and query and its password: the parts a library
    may print apart from the whole (a pinned request's URL has another host)."""
    found: set[str] = set()
    for secret in secrets:
        found.add(secret)
        parts = urlsplit(secret)
        if parts.scheme and parts.netloc:
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            found.update(p for p in (tail, parts.path, parts.password or "") if p)
    return sorted((f for f in found if len(f) >= MIN_FRAGMENT), key=len, reverse=True)


def redact(text: str | None, secrets: Iterable[str]) -> str | None:
    """``text`` with every fragment of ``secrets`` masked."""
    if text is None:
        return None
    for fragment in fragments(secrets):
        text = text.replace(fragment, MASK)
    return text


class _Registry:
    """The fragments of the secrets of every send under way, in any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        #: Longest first; replaced whole under the lock, so a reader in another thread
        #: always sees one consistent tuple without taking the lock.
        self.parts: tuple[str, ...] = ()
        self.installed = False

    def _publish(self) -> None:
        self.counts = +self.counts
        self.parts = tuple(sorted(self.counts, key=len, reverse=True))

    def add(self, parts: list[str]) -> None:
        with self.lock:
            self.counts.update(parts)
            self._publish()
            if not self.installed:
                # A record factory sees every logger's records, a library's child loggers
                # (urllib3.connectionpool, httpcore.http11) included, which a filter on a
                # parent logger would miss.
                logging.setLogRecordFactory(_factory(logging.getLogRecordFactory()))
                self.installed = True

    def remove(self, parts: list[str]) -> None:
        with self.lock:
            self.counts.subtract(parts)
            self._publish()

    def masked(self, message: str) -> str | None:
        parts = self.parts
        if not any(part in message for part in parts):
            return None
        for part in parts:
            message = message.replace(part, MASK)
        return message


_registry = _Registry()


def _factory(original: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        if _registry.parts:
            masked = _registry.masked(record.getMessage())
            if masked is not None:
                record.msg, record.args = masked, None
        return record

    return make


def mask(text: str) -> str:
    """``text`` with the secrets of every :func:`redacting` block under way masked."""
    if not _registry.parts:
        return text
    masked = _registry.masked(text)
    return text if masked is None else masked


def mask_mapping(value: Any) -> Any:
    """:func:`mask` over every string in ``value`` (dicts and lists, recursively): a Sentry
    event, whose exception and breadcrumbs may quote what a running job holds."""
    if not _registry.parts:
        return value
    if isinstance(value, dict):
        return {k: mask_mapping(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_mapping(v) for v in value]
    return mask(value) if isinstance(value, str) else value


@contextmanager
def redacting(secrets: Iterable[str]) -> Iterator[None]:
    """Within, no log record of any logger carries a fragment of ``secrets``."""
    parts = fragments(secrets)
    _registry.add(parts)
    try:
        yield
    finally:
        _registry.remove(parts)
