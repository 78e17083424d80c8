"""Notification templates in the store: created, listed a page at a time, read, edited and
removed; every write is checked (:func:`tasks.notifications.templates.check_template`) first."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tasks.notifications.errors import TemplateConflict, TemplateNotFound
from tasks.notifications.rendering import Rendered, render
from tasks.notifications.templates import TemplateSpec, check_data, check_template, render_checked
from workers.store.engine import session_scope
from workers.store.lookup import NamedRows, name_taken
from workers.store.models import Template

#: The fields an edit may change (``name`` is the template's identity).
EDITABLE = frozenset({"subject", "text", "html", "sample_data", "default_channels"})


def spec_of(record: Template) -> TemplateSpec:
    """The stored template's definition."""
    return TemplateSpec(
        name=record.name,
        subject=record.subject,
        text=record.text,
        html=record.html,
        sample_data=dict(record.sample_data),
        default_channels=tuple(record.default_channels),
    )


TEMPLATES = NamedRows(
    Template, TemplateNotFound, "template", name_taken(TemplateConflict, "a template"), EDITABLE
)
#: A page of templates, newest first; one by id; one by name (:class:`TemplateNotFound`).
list_templates, get_template, find_template = TEMPLATES.page, TEMPLATES.get, TEMPLATES.find


def create_template(spec: TemplateSpec) -> Template:
    """Store a new template (checked, rendered against its sample data); :class:`InvalidTemplate`
    when it does not validate, :class:`TemplateConflict` when the name is taken."""
    checked = check_template(spec)
    return TEMPLATES.add(Template(**checked.columns()))


def update_template(template_id: uuid.UUID, changes: Mapping[str, Any]) -> Template:
    """Apply ``changes`` (fields of :data:`EDITABLE`; ``html`` ``None`` drops the HTML part,
    ``sample_data`` and ``default_channels`` ``None`` empty them), checked and rendered again
    as a whole before anything is written."""
    TEMPLATES.check_editable(changes)
    fields = dict(changes)
    if "sample_data" in fields and fields["sample_data"] is None:
        fields["sample_data"] = {}
    if "default_channels" in fields:
        fields["default_channels"] = tuple(fields["default_channels"] or ())
    with session_scope() as session:
        record = TEMPLATES.row(session, template_id, lock=True)
        new = check_template(replace(spec_of(record), **fields))
        for name, value in new.columns().items():
            setattr(record, name, value)
    return record


def delete_template(template_id: uuid.UUID) -> None:
    """Remove a template, or :class:`TemplateNotFound`."""
    with session_scope() as session:
        record = TEMPLATES.row(session, template_id)
        session.delete(record)


def preview(record: Template, data: Mapping[str, Any] | None) -> Rendered:
    """The template rendered against ``data`` (its sample data when ``None``), as a send would
    render it; :class:`InvalidTemplate` for data that is not a storable JSON object or a part
    that does not render (naming the part and line)."""
    if data is None:
        return render_checked(spec_of(record).sources, dict(record.sample_data), "sample_data")
    return render_checked(spec_of(record).sources, check_data("data", data), "data")


def render_for_send(record: Template, data: Mapping[str, Any]) -> Rendered:
    """The stored template rendered against a send's ``data``. The only error is
    :class:`RenderError`, whose ``reason`` is what the failed delivery records."""
    return render(spec_of(record).sources, data)
