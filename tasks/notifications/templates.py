"""What a notification template is before it is stored, and the one validation API and CLI go
through: the name, the texts and their limits, the sample data, and a render of every part
against the sample data, so a template that is saved renders."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from tasks.notifications.errors import InvalidTemplate, RenderError
from tasks.notifications.rendering import Rendered, Sources, render
from workers.names import NAME_RULE, is_name

#: The longest subject source (it renders to at most one header line).
MAX_SUBJECT_SOURCE = 2_000
#: The longest text or HTML source.
MAX_BODY_SOURCE = 100_000
#: The largest sample data (and preview data), as JSON.
MAX_DATA_BYTES = 64 * 1024
MAX_DEFAULT_CHANNELS = 20


@dataclass(frozen=True)
class TemplateSpec:
    """A template's definition: its name, the Jinja2 sources of its parts, the data they are
    checked against, and the channels a notification naming it goes to by default."""

    name: str
    subject: str
    text: str
    html: str | None = None
    sample_data: dict[str, Any] = field(default_factory=dict)
    default_channels: tuple[str, ...] = ()

    @property
    def sources(self) -> Sources:
        """The parts to render."""
        return Sources(subject=self.subject, text=self.text, html=self.html)

    def columns(self) -> dict[str, Any]:
        """The template as ``templates`` column values."""
        return {
            "name": self.name,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "sample_data": self.sample_data,
            "default_channels": list(self.default_channels),
        }


def invalid(field_name: str, message: str, line: int | None = None) -> InvalidTemplate:
    """An :class:`InvalidTemplate` about one field (and a line of it)."""
    where = f"{field_name}, line {line}" if line is not None else field_name
    detail: dict[str, Any] = {"field": field_name, "message": message}
    if line is not None:
        detail["line"] = line
    return InvalidTemplate(f"{where}: {message}", [detail])


def check_name(field_name: str, name: str) -> None:
    """Refuse a template or channel name that is not 1-200 of the usual characters."""
    if not is_name(name):
        raise invalid(field_name, f"{name!r} is not a usable name; {NAME_RULE}")


def _check_text(field_name: str, value: str | None, limit: int) -> None:
    if value is None:
        return
    if "\x00" in value:
        raise invalid(field_name, "must not contain NUL (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(field_name, "must be valid Unicode (no lone surrogate)") from None
    if len(value) > limit:
        raise invalid(field_name, f"must be at most {limit} characters")


def check_data(field_name: str, data: Any) -> dict[str, Any]:
    """``data`` if it is a JSON object both stores hold (no NUL, no lone surrogate, finite
    numbers) of at most :data:`MAX_DATA_BYTES`, else :class:`InvalidTemplate`."""
    if not isinstance(data, dict):
        raise invalid(field_name, f"must be a JSON object, not {type(data).__name__}")
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        size = len(text.encode("utf-8"))
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError) as error:
        raise invalid(field_name, f"is not JSON both stores hold ({error})") from None
    if size > MAX_DATA_BYTES:
        raise invalid(field_name, f"must be at most {MAX_DATA_BYTES} bytes as JSON")
    if "\\u0000" in text:
        raise invalid(field_name, "strings and keys must not contain NUL (\\u0000)")
    return data


def _check_channels(names: tuple[str, ...]) -> tuple[str, ...]:
    if len(names) > MAX_DEFAULT_CHANNELS:
        raise invalid("default_channels", f"must name at most {MAX_DEFAULT_CHANNELS} channels")
    for name in names:
        check_name("default_channels", name)
    return tuple(dict.fromkeys(names))  # each once, in the order given


def render_checked(sources: Sources, data: dict[str, Any], data_field: str) -> Rendered:
    """``sources`` rendered against ``data``; a failure is :class:`InvalidTemplate` naming
    the part and line (and that it rendered against ``data_field``)."""
    try:
        return render(sources, data)
    except RenderError as error:
        message = f"{error.problem} (rendering against {data_field})"
        raise invalid(error.part, message, error.line) from None


def check_template(spec: TemplateSpec) -> TemplateSpec:
    """``spec`` validated and rendered against its sample data, else :class:`InvalidTemplate`
    naming the field (and, for a part that does not render, the line)."""
    check_name("name", spec.name)
    _check_text("subject", spec.subject, MAX_SUBJECT_SOURCE)
    _check_text("text", spec.text, MAX_BODY_SOURCE)
    _check_text("html", spec.html, MAX_BODY_SOURCE)
    sample = check_data("sample_data", spec.sample_data)
    channels = _check_channels(tuple(spec.default_channels))
    checked = replace(spec, sample_data=sample, default_channels=channels)
    render_checked(checked.sources, sample, "sample_data")
    return checked
