"""Removing secrets (passwords in URLs, API keys, bearer tokens) from text and events."""

from __future__ import annotations

import re
from typing import Any

_PATTERNS = (
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.I), r"\g<pre>***"),
    (re.compile(r"(?P<pre>bearer\s+)[^\s\"']+", re.I), r"\g<pre>***"),
    (re.compile(r"\btyk_[A-Za-z0-9_-]{8,}"), "tyk_***"),
)
SECRET_KEYS = re.compile(r"pass|secret|token|api[_-]?key|authorization|dsn|cookie", re.I)


def scrub_text(text: str) -> str:
    """``text`` with URL passwords, bearer tokens and Taskyard API keys masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_mapping(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys masked and strings scrubbed, recursively."""
    if isinstance(value, dict):
        return {
            k: "***" if isinstance(k, str) and SECRET_KEYS.search(k) else scrub_mapping(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_mapping(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
