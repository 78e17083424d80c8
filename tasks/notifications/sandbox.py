"""The Jinja2 environments templates render in: Jinja2's immutable sandbox (no ``_`` attribute,
no Python internals, no mutation of lists and dicts, no loader so no import or include),
strict about undefined names, and bounded in what one render may build.

The sandbox stops code execution; the bounds here stop a template from exhausting memory. Any
string a template builds is held to :data:`MAX_VALUE_CHARS`, and the operations that multiply
their input (``*``, ``%`` and format widths, ``replace``, ``join``, ``indent``, ``wordwrap``)
are checked before they run, so no single step allocates much more than that.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

#: The longest string a template may build, as a value or as a rendered part.
MAX_VALUE_CHARS = 100_000
#: The most items ``range()`` may produce (Jinja2's sandbox allows 100,000).
MAX_RANGE = 10_000
#: Exponents and products past this many bits are refused (a number no message needs).
MAX_INT_BITS = 4096
#: String methods a template may call; the rest (``center``, ``zfill``, ``expandtabs``,
#: ``translate``, ``encode``...) either multiply their input or have no use in a message.
STR_METHODS = frozenset(
    {"capitalize", "casefold", "count", "endswith", "find", "format", "format_map", "index",
     "isalnum", "isalpha", "isdecimal", "isdigit", "islower", "isnumeric", "isspace",
     "istitle", "isupper", "join", "lower", "lstrip", "partition", "removeprefix",
     "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split",
     "splitlines", "startswith", "strip", "swapcase", "title", "upper"}
)  # fmt: skip
_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


class LimitExceeded(Exception):
    """A template tried to build more than the bounds allow."""


def _bounded(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE_CHARS:
        raise LimitExceeded(f"a value would exceed {MAX_VALUE_CHARS} characters or items")
    return value


def _within(estimate: int) -> None:
    if estimate > MAX_VALUE_CHARS:
        raise LimitExceeded(f"a value would exceed {MAX_VALUE_CHARS} characters")


def _check_ints(args: Iterable[Any]) -> None:
    """No width, count or size argument beyond what any value may hold."""
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_VALUE_CHARS:
            raise LimitExceeded(f"a number argument over {MAX_VALUE_CHARS} is refused")


def _printf_width(fmt: str, args: Any) -> int:
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


def _format_width(fmt: str, args: Iterable[Any]) -> int:
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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _replace_size(value: Any, old: Any = "", new: Any = "", count: Any = None) -> int:
    source, old, new = _text(value), _text(old), _text(new)
    hits = source.count(old) if old else len(source) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(source) + hits * max(0, len(new) - len(old))


def _indent_size(value: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    source = _text(value)
    step = len(width) if isinstance(width, str) else int(width)
    return len(source) + (source.count("\n") + 1) * step


def _wordwrap_size(value: Any, width: Any = 79, _breaks: Any = True, wrap: Any = None) -> int:
    source = _text(value)
    return len(source) + (len(source) // max(int(width), 1) + 1) * len(wrap or "\n")


def _joined(parts: Iterable[str]) -> str:
    """What Jinja2 joins a captured block with (``{% set %}...{% endset %}``, a macro's or a
    ``{% filter %}`` block's output), the total checked before the join allocates it."""
    items = list(parts)
    _check_join(items, "")
    return "".join(items)


def _check_join(items: list[Any], separator: Any) -> None:
    total = len(_text(separator)) * len(items)
    _within(total)
    for item in items:
        total += len(_text(item))
        _within(total)


#: Filters whose output may be a multiple of their input: their size, from their arguments.
_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "replace": _replace_size,
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "format": lambda value, *args, **kwargs: (
        len(_text(value)) + _printf_width(_text(value), tuple(args) or tuple(kwargs.values()))
    ),
}


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its arguments checked before and its result after it runs."""
    # ``@pass_context`` and its siblings mark a filter that takes one leading argument more.
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        own = args[skip:]
        _check_ints([*own[1:], *kwargs.values()])
        if name in _FILTER_SIZES:
            _within(_FILTER_SIZES[name](*own, **kwargs))
        if name == "join" and own:
            items = list(own[0])
            _check_join(items, own[1] if len(own) > 1 else kwargs.get("d", ""))
            args = (*args[:skip], items, *own[1:])
        if name == "tojson" and (len(own) > 1 or "indent" in kwargs):
            raise LimitExceeded("tojson with an indent is refused; indent the output instead")
        if name == "sum" and not all(_is_number(a) for a in [*own[2:], kwargs.get("start", 0)]):
            raise LimitExceeded("sum adds numbers only (join strings with |join)")
        return _bounded(func(*args, **kwargs))

    return guarded


class Capture(list[str]):
    """The output of a captured block (``{% set %}...{% endset %}``, a macro, a
    ``{% filter %}`` block), held to the bound as it grows rather than when it is joined."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def append(self, chunk: str) -> None:
        """Keep ``chunk``, unless the output would pass the bound."""
        self.size += len(chunk)
        if self.size > MAX_VALUE_CHARS:
            raise LimitExceeded(f"a block's output would exceed {MAX_VALUE_CHARS} characters")
        super().append(chunk)

    def extend(self, chunks: Iterable[str]) -> None:
        """Keep each of ``chunks``, as :meth:`append`."""
        for chunk in chunks:
            self.append(chunk)


class BoundedCodeGenerator(CodeGenerator):
    """Jinja2's code generator, with captured output and ``~`` concatenation going through
    the environment, so neither can grow past the bound in a loop."""

    def buffer(self, frame: Frame) -> None:
        """A captured block writes into a :class:`Capture`, not a plain list."""
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.capture()")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """``a ~ b`` as ``environment.bounded_concat((a, b), autoescape)``."""
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), context.eval_ctx.autoescape)")


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with the bounds above; no loader, strict undefined."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = BoundedCodeGenerator
    concat = staticmethod(_joined)
    capture = Capture

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, undefined=StrictUndefined, loader=None)
        # lipsum generates text by the paragraph: no message needs it, and it is a cheap way
        # to make a lot of output.
        self.globals.pop("lipsum", None)
        self.globals["range"] = _range
        self.filters = {name: _guarded_filter(name, f) for name, f in self.filters.items()}

    def get_template(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: a template stands alone (no import, include or extends)."""
        raise SecurityError("a template cannot import, include or extend another template")

    select_template = get_template

    def bounded_concat(self, parts: tuple[Any, ...], autoescape: bool) -> str:
        """``~``: the parts joined (escaped when autoescaping), within the bound."""
        return str(_bounded(markup_join(parts) if autoescape else str_join(parts)))

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        """Refuse at once (Jinja2 returns an undefined that fails only when used, and a
        list of them still prints)."""
        kind = type(obj).__name__
        raise SecurityError(f"access to attribute {attribute!r} of a {kind!r} is refused")

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's rule, and only the listed string methods."""
        if isinstance(obj, str) and callable(value) and attr not in STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``+`` and ``%`` refused before they build something too large."""
        if operator == "**":
            _check_power(left, right)
        if operator == "*":
            _check_product(left, right)
        if operator == "%" and isinstance(left, str):
            _within(len(left) + _printf_width(left, right))
        return _bounded(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """A call from the template, its arguments and result held to the bounds."""
        _check_ints([*args, *kwargs.values()])
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(obj, "__name__", "")
            if name == "replace":
                _within(_replace_size(owner, *args, **kwargs))
            elif name == "join" and args:
                items = list(args[0])
                _check_join(items, owner)
                args = (items, *args[1:])
        return _bounded(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` sandboxed by Jinja2, with its padding widths held to the bound."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            values = [*args, *kwargs.values()]
            values += [v for a in args if isinstance(a, Mapping) for v in a.values()]
            _within(len(fmt) + _format_width(fmt, values))
            return str(_bounded(wrapped(*args, **kwargs)))

        return bounded_format


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or abs(base) <= 1:
        return
    if exponent > 0 and abs(base).bit_length() * exponent > MAX_INT_BITS:
        raise LimitExceeded(f"a power beyond {MAX_INT_BITS} bits is refused")


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise LimitExceeded(f"a product beyond {MAX_INT_BITS} bits is refused")
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            _within(len(seq) * times)


def _range(*args: int) -> range:
    """``range`` of at most :data:`MAX_RANGE` items."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise LimitExceeded(f"range() is limited to {MAX_RANGE} items")
    return numbers
