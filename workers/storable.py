"""What the store holds alike on PostgreSQL and SQLite: the one check of the text and JSON that
callers hand it (the producer for jobs, ``schedules.entries`` for schedule entries).

PostgreSQL refuses a NUL in text and JSON, and ``Infinity``/``NaN`` in JSON; SQLite keeps
them, and ignores a column's declared length; neither takes a lone surrogate. Checking here,
before either store sees a value, gives every caller the same clear refusal on both.
"""

from __future__ import annotations

import math
import re
from typing import Any

NUL = "\x00"
NO_NUL = "must not contain NUL (\\u0000)"
NO_SURROGATE = "must be valid Unicode (no lone surrogate such as \\ud800)"
#: Characters neither store takes: NUL (PostgreSQL), and halves of surrogate pairs, which
#: UTF-8 cannot encode (and JSON text can still carry as ``\\ud800``).
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
#: Deepest nesting of a JSON document (a payload, a schedule's arguments). pydantic will not
#: serialize past 255 levels, so a deeper stored document could never be read back.
MAX_DEPTH = 32
#: Integers in documents fit a signed 64-bit number, as most JSON readers and SQLite need.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


class Unstorable(ValueError):
    """A value the store cannot hold the same way on both backends; ``where`` is the dotted
    path inside a document (empty for the document itself) or the field's name."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


def _character_problem(text: str) -> str | None:
    found = _BAD_CHARACTER.search(text)
    if found is None:
        return None
    return NO_NUL if found.group() == NUL else NO_SURROGATE


def check_text(field: str, value: str | None, max_length: int) -> None:
    """Refuse a NUL or a lone surrogate in ``value``, or more than ``max_length`` characters."""
    if value is None:
        return
    problem = _character_problem(value)
    if problem is not None:
        raise Unstorable(field, problem)
    if len(value) > max_length:
        raise Unstorable(field, f"must be at most {max_length} characters")


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _check_leaf(value: object, path: str) -> None:
    if isinstance(value, str):
        problem = _character_problem(value)
        if problem is not None:
            raise Unstorable(path, f"strings and keys {problem}")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise Unstorable(path, f"integers must lie between {MIN_INT} and {MAX_INT} (64 bits)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Unstorable(path, "numbers must be finite (no NaN or Infinity)")
    else:
        raise Unstorable(path, f"a {type(value).__name__} is not a JSON value")


def storable_text(text: str) -> str:
    """``text`` with each character neither store takes (NUL, a lone surrogate) replaced by
    U+FFFD: for text a job produces (an error message, a progress note), which is recorded,
    not refused."""
    return _BAD_CHARACTER.sub("\ufffd", text)


def check_document(document: Any, root: str = "") -> None:
    """Refuse a JSON document the store cannot hold: a NUL or a lone surrogate in a string or
    key, an integer
    beyond 64 bits, NaN or Infinity, a key that is not a string, or nesting deeper than
    :data:`MAX_DEPTH`. A key counts as its object's; paths start at ``root``. Iterative, so no
    depth exhausts the stack."""
    pending: list[tuple[Any, str, int]] = [(document, root, 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise Unstorable(path, f"must not nest deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key in value:
                    if not isinstance(key, str):
                        raise Unstorable(path, "keys must be strings")
                    problem = _character_problem(key)
                    if problem is not None:
                        raise Unstorable(path, f"strings and keys {problem}")
                items = list(value.items())
            else:
                items = list(enumerate(value))
            pending.extend((item, _join(path, key), depth + 1) for key, item in items)
        else:
            _check_leaf(value, path)
