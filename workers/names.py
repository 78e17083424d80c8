"""The one rule for names operators give things (schedules, templates): 1-200 letters, digits
and ``_.:@-``, starting with a letter or digit, so a name reads the same in a URL, a table and
a shell."""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$")
#: What a refusal says a name should be.
NAME_RULE = "use 1-200 letters, digits, '_.:@-', starting with a letter or digit"


def is_name(name: str) -> bool:
    """Whether ``name`` follows the rule (the whole of it)."""
    return NAME_PATTERN.fullmatch(name) is not None
