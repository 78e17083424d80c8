"""Removing secrets (passwords in URLs, API keys, bearer tokens) from text and events."""

from __future__ import annotations

import re
from typing import Any

_PATTERNS = (
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.I), r"\g<pre>***"),
    (re.compile(r"(?P<pre>bearer\s+)[^\s\"']+", re.I), r"\g<pre>***"),
    (re.compile(r"\btyk_[A-Za-z0-9_-]{8,}"), "tyk_***"),
)
#: What every secret ``_PATTERNS`` masks contains: text without any of these is left as it is
#: after one search instead of three substitutions (a worker logs two lines per job).
_MAYBE_SECRET = re.compile(r"://|bearer|tyk_", re.I)
SECRET_KEYS = re.compile(r"pass|secret|token|api[_-]?key|authorization|dsn|cookie", re.I)


def scrub_text(text: str) -> str:
    """``text`` with URL passwords, bearer tokens and Taskyard API keys masked."""
    if _MAYBE_SECRET.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_field(key: str, value: Any) -> Any:
    """``value`` as logged under ``key``: masked when the key looks secret, else scrubbed."""
    if SECRET_KEYS.search(key):
        return "***"
    return scrub_mapping(value)


def scrub_mapping(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys masked and strings scrubbed, recursively."""
    if isinstance(value, dict):
        return {k: scrub_field(k, v) if isinstance(k, str) else scrub_mapping(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list | tuple):
        return [scrub_mapping(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
