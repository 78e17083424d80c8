"""The Jinja2 environments templates render in: Jinja2's immutable sandbox (no ``_`` attribute,
no Python internals, no mutation of lists and dicts, no loader so no import or include),
strict about undefined names, and bounded in what one render may build.

The sandbox stops code execution; the bounds (:mod:`tasks.notifications.bounds`) stop a template
from exhausting memory. Any string a template builds, and any captured block's output, is held
to ``MAX_VALUE_CHARS``, and the operations that multiply their input (``*``, ``%`` and format
widths, ``replace``, ``join``, ``indent``, ``wordwrap``) are checked before they run, so no
single step allocates much more than that.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tasks.notifications.bounds import (
    MAX_VALUE_CHARS,
    LimitExceeded,
    as_text,
    bounded,
    bounded_range,
    check_ints,
    check_join,
    check_power,
    check_product,
    format_width,
    indent_size,
    is_number,
    joined,
    printf_width,
    replace_size,
    within,
    wordwrap_size,
)

#: String methods a template may call; the rest (``center``, ``zfill``, ``expandtabs``,
#: ``translate``, ``encode``...) either multiply their input or have no use in a message.
STR_METHODS = frozenset(
    {"capitalize", "casefold", "count", "endswith", "find", "format", "format_map", "index",
     "isalnum", "isalpha", "isdecimal", "isdigit", "islower", "isnumeric", "isspace",
     "istitle", "isupper", "join", "lower", "lstrip", "partition", "removeprefix",
     "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split",
     "splitlines", "startswith", "strip", "swapcase", "title", "upper"}
)  # fmt: skip
#: Filters whose output may be a multiple of their input: their size, from their arguments.
_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "replace": replace_size,
    "indent": indent_size,
    "wordwrap": wordwrap_size,
    "format": lambda value, *args, **kwargs: (
        len(as_text(value)) + printf_width(as_text(value), tuple(args) or tuple(kwargs.values()))
    ),
}


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its arguments checked before and its result after it runs."""
    # ``@pass_context`` and its siblings mark a filter that takes one leading argument more.
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        own = args[skip:]
        check_ints([*own[1:], *kwargs.values()])
        if name in _FILTER_SIZES:
            within(_FILTER_SIZES[name](*own, **kwargs))
        if name == "join" and own:
            items = list(own[0])
            check_join(items, own[1] if len(own) > 1 else kwargs.get("d", ""))
            args = (*args[:skip], items, *own[1:])
        if name == "tojson" and (len(own) > 1 or "indent" in kwargs):
            raise LimitExceeded("tojson with an indent is refused; indent the output instead")
        if name == "sum" and not all(is_number(a) for a in [*own[2:], kwargs.get("start", 0)]):
            raise LimitExceeded("sum adds numbers only (join strings with |join)")
        return bounded(func(*args, **kwargs))

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
    concat = staticmethod(joined)
    capture = Capture

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, undefined=StrictUndefined, loader=None)
        # lipsum generates text by the paragraph: no message needs it, and it is a cheap way
        # to make a lot of output.
        self.globals.pop("lipsum", None)
        self.globals["range"] = bounded_range
        self.filters = {name: _guarded_filter(name, f) for name, f in self.filters.items()}

    def get_template(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: a template stands alone (no import, include or extends)."""
        raise SecurityError("a template cannot import, include or extend another template")

    select_template = get_template

    def bounded_concat(self, parts: tuple[Any, ...], autoescape: bool) -> str:
        """``~``: the parts joined (escaped when autoescaping), within the bound."""
        return str(bounded(markup_join(parts) if autoescape else str_join(parts)))

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
            check_power(left, right)
        if operator == "*":
            check_product(left, right)
        if operator == "%" and isinstance(left, str):
            within(len(left) + printf_width(left, right))
        return bounded(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """A call from the template, its arguments and result held to the bounds."""
        check_ints([*args, *kwargs.values()])
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(obj, "__name__", "")
            if name == "replace":
                within(replace_size(owner, *args, **kwargs))
            elif name == "join" and args:
                items = list(args[0])
                check_join(items, owner)
                args = (items, *args[1:])
        return bounded(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` sandboxed by Jinja2, with its padding widths held to the bound."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            values = [*args, *kwargs.values()]
            values += [v for a in args if isinstance(a, Mapping) for v in a.values()]
            within(len(fmt) + format_width(fmt, values))
            return str(bounded(wrapped(*args, **kwargs)))

        return bounded_format
