"""The one rule for names an operator gives things (API keys, schedule entries)."""

from __future__ import annotations

import re

#: Anchored for pydantic's ``pattern`` (a search); Python code checks with ``fullmatch``.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$")
NAME_RULE = "use 1-200 letters, digits, '_', '.', ':', '@' or '-', starting with a letter or digit"


def is_name(text: str) -> bool:
    """Whether ``text`` is a usable name, in full (a trailing newline is not)."""
    return NAME_PATTERN.fullmatch(text) is not None
