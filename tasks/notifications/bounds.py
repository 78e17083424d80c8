"""What one template render may build: the bounds, and the size of each operation that can
multiply its input, estimated from its arguments before it runs (used by
:mod:`tasks.notifications.sandbox`)."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import Any

#: The longest string a template may build, as a value or as a rendered part.
MAX_VALUE_CHARS = 100_000
#: The most items ``range()`` may produce (Jinja2's sandbox allows 100,000).
MAX_RANGE = 10_000
#: Exponents and products past this many bits are refused (a number no message needs).
MAX_INT_BITS = 4096
_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


class LimitExceeded(Exception):
    """A template tried to build more than the bounds allow."""


def bounded(value: Any) -> Any:
    """``value``, unless it is a string or sequence longer than the bound."""
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE_CHARS:
        raise LimitExceeded(f"a value would exceed {MAX_VALUE_CHARS} characters or items")
    return value


def within(estimate: int) -> None:
    """Refuse an operation whose result would be ``estimate`` characters, past the bound."""
    if estimate > MAX_VALUE_CHARS:
        raise LimitExceeded(f"a value would exceed {MAX_VALUE_CHARS} characters")


def check_ints(args: Iterable[Any]) -> None:
    """No width, count or size argument beyond what any value may hold."""
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_VALUE_CHARS:
            raise LimitExceeded(f"a number argument over {MAX_VALUE_CHARS} is refused")


def printf_width(fmt: str, args: Any) -> int:
    """The width ``fmt % args`` may pad to: its fields' widths and precisions summed."""
    total = 0
    starred = [a for a in (args if isinstance(args, tuple) else (args,)) if isinstance(a, int)]
    for match in _PRINTF_FIELD.finditer(fmt):
        for number in match.groups():
            if number == "*":
                total += sum(abs(a) for a in starred)
            elif number:
                total += int(number)
    return total


def format_width(fmt: str, args: Iterable[Any]) -> int:
    """The width ``fmt.format(...)`` may pad to: every number in its format specs, and the
    integer arguments when a spec takes its width from one."""
    total = 0
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return 0  # the format call itself reports the malformed string
    for _, _, spec, _ in fields:
        total += sum(int(n) for n in _DIGITS.findall(spec or ""))
        if spec and "{" in spec:
            total += sum(abs(a) for a in args if isinstance(a, int) and not isinstance(a, bool))
    return total


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_text(value: Any) -> str:
    """``value`` as the string a filter or method works on."""
    return value if isinstance(value, str) else str(value)


def replace_size(value: Any, old: Any = "", new: Any = "", count: Any = None) -> int:
    """The length of ``value.replace(old, new, count)``."""
    source, old, new = as_text(value), as_text(old), as_text(new)
    hits = source.count(old) if old else len(source) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(source) + hits * max(0, len(new) - len(old))


def indent_size(value: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    """At most the length of ``value|indent(width)``."""
    source = as_text(value)
    step = len(width) if isinstance(width, str) else int(width)
    return len(source) + (source.count("\n") + 1) * step


def wordwrap_size(value: Any, width: Any = 79, _breaks: Any = True, wrap: Any = None) -> int:
    """At most the length of ``value|wordwrap(width, wrapstring=wrap)``."""
    source = as_text(value)
    return len(source) + (len(source) // max(int(width), 1) + 1) * len(wrap or "\n")


def joined(parts: Iterable[str]) -> str:
    """What Jinja2 joins a captured block with (``{% set %}...{% endset %}``, a macro's or a
    ``{% filter %}`` block's output), the total checked before the join allocates it."""
    items = list(parts)
    check_join(items, "")
    return "".join(items)


def check_join(items: list[Any], separator: Any) -> None:
    """Refuse joining ``items`` with ``separator`` when the result would pass the bound."""
    total = len(as_text(separator)) * len(items)
    within(total)
    for item in items:
        total += len(as_text(item))
        within(total)


def check_power(base: Any, exponent: Any) -> None:
    """Refuse ``base ** exponent`` past :data:`MAX_INT_BITS`."""
    if not (isinstance(base, int) and isinstance(exponent, int)) or abs(base) <= 1:
        return
    if exponent > 0 and abs(base).bit_length() * exponent > MAX_INT_BITS:
        raise LimitExceeded(f"a power beyond {MAX_INT_BITS} bits is refused")


def check_product(left: Any, right: Any) -> None:
    """Refuse ``left * right`` past :data:`MAX_INT_BITS`, or a repeated sequence past the bound."""
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise LimitExceeded(f"a product beyond {MAX_INT_BITS} bits is refused")
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            within(len(seq) * times)


def bounded_range(*args: int) -> range:
    """``range`` of at most :data:`MAX_RANGE` items."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise LimitExceeded(f"range() is limited to {MAX_RANGE} items")
    return numbers
