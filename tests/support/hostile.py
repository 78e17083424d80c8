"""Hostile values for property tests of every input that takes a time, a text or a number:
extreme timestamps, NUL and other characters no store takes, huge numbers, deep nesting."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta, timezone
from typing import Any

from hypothesis import strategies as st

#: The extremes issue 11 found: they parse, but cannot be represented in UTC.
UNREPRESENTABLE = ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59")


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


#: RFC 3339-shaped text with every part pushed past its range (year, month, day, hour,
#: minute, leap second, fraction, offset), and shapes close to valid.
EXTREME_STAMPS = st.builds(
    "{}-{}-{}{}{}:{}:{}{}{}".format,
    st.one_of(st.sampled_from(["0000", "0001", "9999"]), st.integers(0, 9999).map("{:04d}".format)),
    _two(0, 13),
    _two(0, 32),
    st.sampled_from(["T", "t", " ", "_"]),
    _two(0, 25),
    _two(0, 61),
    _two(0, 61),
    st.sampled_from(["", ".5", ".999999999", "."]),
    st.one_of(
        st.sampled_from(["Z", "z", "", "+00:00", "-23:59", "+23:59"]),
        st.builds("{}{}:{}".format, st.sampled_from("+-"), _two(0, 25), _two(0, 61)),
    ),
)
#: Valid times in any offset, across the whole datetime range.
AWARE_STAMPS = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
TIMESTAMPS = st.one_of(
    st.sampled_from(UNREPRESENTABLE), EXTREME_STAMPS, AWARE_STAMPS, st.text(max_size=30)
)

#: Text no store takes the same way: NUL, lone surrogates, control and bidi characters,
#: and lengths past every column's limit.
BAD_TEXT = st.one_of(
    st.sampled_from(
        ["\x00", "a\x00b", "\ud800", "x\udfff", "\n", "a\r\nb", "\u202e", "x" * 201, "y" * 5_000]
    ),
    st.text(max_size=20),
    st.text(max_size=10).map(lambda text: f"{text}\x00"),
)
#: Numbers past 64 bits, non-finite floats, and the edges of every numeric field.
HUGE_NUMBERS = st.one_of(
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**300), 2**31, -1, 0]),
    st.floats(),
    st.integers(),
)


def some_of(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dictionaries holding any subset of ``fields``, each drawn from its strategy."""
    return st.fixed_dictionaries({}, optional=fields)


def nested(depth: int, leaf: Any = 1) -> Any:
    """``{"a": {"a": ... leaf}}`` with ``depth`` objects."""
    document = leaf
    for _ in range(depth):
        document = {"a": document}
    return document


_LEAVES = st.one_of(st.none(), st.booleans(), HUGE_NUMBERS, BAD_TEXT)
#: JSON objects with hostile leaves and keys, or nested past any sane depth.
DOCUMENTS = st.one_of(
    st.dictionaries(
        BAD_TEXT,
        st.recursive(
            _LEAVES,
            lambda children: (
                st.lists(children, max_size=3) | st.dictionaries(BAD_TEXT, children, max_size=3)
            ),
            max_leaves=12,
        ),
        max_size=3,
    ),
    st.integers(1, 300).map(lambda depth: dict(nested(depth))),
)


def cursor(stamp: str, ident: str | None = None) -> str:
    """A cursor crafted the way ``api/pagination.py`` encodes one."""
    raw = f"{stamp}|{ident or uuid.uuid4()}".encode(errors="surrogatepass")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


#: ``BAD_TEXT`` that a URL or a command line can carry (UTF-8 cannot encode a lone surrogate).
ARGUMENT_TEXT = BAD_TEXT.filter(_encodable)
CURSORS = st.one_of(st.builds(cursor, TIMESTAMPS), ARGUMENT_TEXT)
