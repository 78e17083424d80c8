"""Rendering a template's subject, text and HTML against data: the one way a message is made,
at save (against the sample data), at preview and at send.

:func:`render` raises nothing but :class:`RenderError`, naming the part and line: a syntax
error, an undefined name, a refusal of the sandbox, a bound passed. A render is bounded in
output (per part), in steps and in time, besides what each value may hold
(:mod:`tasks.notifications.sandbox`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import FrameType, TracebackType
from typing import Any

from jinja2 import Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from tasks.notifications.bounds import MAX_VALUE_CHARS, LimitExceeded
from tasks.notifications.errors import RenderError
from tasks.notifications.sandbox import TemplateEnvironment

#: The longest rendered subject: one header line (RFC 5322 allows 998 characters).
MAX_SUBJECT_CHARS = 998
#: The longest rendered text or HTML body.
MAX_BODY_CHARS = MAX_VALUE_CHARS
#: Lines of template code one render may run, all parts together, and the time it may take.
MAX_STEPS = 1_000_000
MAX_RENDER_S = 2.0
#: The file name Jinja2 gives code compiled from a string; the step budget counts its lines.
_TEMPLATE_FILE = "<template>"

_TEXT = TemplateEnvironment(autoescape=False)
_HTML = TemplateEnvironment(autoescape=True)


class Part(StrEnum):
    """The parts of a template, in the order they render."""

    SUBJECT = "subject"
    TEXT = "text"
    HTML = "html"


@dataclass(frozen=True)
class Sources:
    """A template's parts as written; no HTML part when ``html`` is ``None``."""

    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class Rendered:
    """A rendered message."""

    subject: str
    text: str
    html: str | None


class _Budget:
    """Counts the lines of template code run, and stops the render past the step or time
    budget (a trace function on the rendering thread, for template frames only)."""

    def __init__(self, steps: int, seconds: float) -> None:
        self.left = steps
        self.deadline = time.monotonic() + seconds

    def enter(self, frame: FrameType, event: str, arg: Any) -> Any:
        """The global trace function: trace template frames only."""
        return self.step if frame.f_code.co_filename == _TEMPLATE_FILE else None

    def step(self, frame: FrameType, event: str, arg: Any) -> Any:
        """The local trace function: one line run."""
        if event == "line":
            self.left -= 1
            if self.left <= 0:
                raise LimitExceeded(f"the render ran more than {MAX_STEPS} steps")
            if self.left % 1024 == 0 and time.monotonic() > self.deadline:
                raise LimitExceeded(f"the render took longer than {MAX_RENDER_S} s")
        return self.step


@contextmanager
def _budgeted(budget: _Budget) -> Iterator[None]:
    previous = sys.gettrace()
    sys.settrace(budget.enter)
    try:
        yield
    finally:
        sys.settrace(previous)


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool) -> Template:
    return (_HTML if html else _TEXT).from_string(source)


def _template_line(trace: TracebackType | None) -> int | None:
    """The template line the innermost template frame of ``trace`` was running."""
    line = None
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _problem(error: Exception) -> str:
    if isinstance(error, TemplateSyntaxError):
        return f"syntax error: {error.message}"
    if isinstance(error, UndefinedError):
        return f"{error.message} (give it in the data, or use |default)"
    if isinstance(error, SecurityError):
        return f"refused by the sandbox: {error}"
    if isinstance(error, LimitExceeded):
        return str(error)
    if isinstance(error, RecursionError):
        return "nested or recursive too deeply"
    return f"{type(error).__name__}: {error}"


def _render_part(
    part: Part, source: str, data: Mapping[str, Any], limit: int, budget: _Budget
) -> str:
    chunks: list[str] = []
    size = 0
    try:
        template = _compiled(source, part is Part.HTML)
        with _budgeted(budget):
            for chunk in template.generate(data):
                size += len(chunk)
                if size > limit:
                    raise LimitExceeded(f"the rendered {part} exceeds {limit} characters")
                chunks.append(chunk)
    except TemplateSyntaxError as error:
        raise RenderError(part, _problem(error), error.lineno) from None
    except Exception as error:
        raise RenderError(part, _problem(error), _template_line(error.__traceback__)) from None
    return "".join(chunks)


def render(sources: Sources, data: Mapping[str, Any]) -> Rendered:
    """``sources`` rendered against ``data`` (its keys are the template's variables), or
    :class:`RenderError` naming the part and line; the subject must render to one line."""
    budget = _Budget(MAX_STEPS, MAX_RENDER_S)
    subject = _render_part(Part.SUBJECT, sources.subject, data, MAX_SUBJECT_CHARS, budget)
    subject = subject.strip()
    if "\n" in subject or "\r" in subject:
        raise RenderError(Part.SUBJECT, "the rendered subject must be one line")
    text = _render_part(Part.TEXT, sources.text, data, MAX_BODY_CHARS, budget)
    html = None
    if sources.html is not None:
        html = _render_part(Part.HTML, sources.html, data, MAX_BODY_CHARS, budget)
    return Rendered(subject=subject, text=text, html=html)
