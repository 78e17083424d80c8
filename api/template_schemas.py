"""Request and response bodies of ``/v1/templates``, and the record-to-JSON mapping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.resources import Page, PatchBody, RecordOut
from tasks.notifications.rendering import Rendered
from tasks.notifications.templates import (
    MAX_BODY_SOURCE,
    MAX_DEFAULT_CHANNELS,
    MAX_SUBJECT_SOURCE,
    TemplateSpec,
)
from workers.names import NAME_PATTERN

_SUBJECT = "Jinja2 source of the subject (one line once rendered); autoescape off."
_TEXT = "Jinja2 source of the plain-text body; autoescape off."
_HTML = "Jinja2 source of the HTML body (optional); autoescape on."
_SAMPLE = "Data every part is rendered against when the template is saved (and previews)."
_CHANNELS = "Channel names a notification naming this template goes to when it names none."


class TemplateIn(BaseModel):
    """A notification template; it is rendered against `sample_data` before it is stored."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN.pattern)
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_SOURCE, description=_SUBJECT)
    text: str = Field(min_length=1, max_length=MAX_BODY_SOURCE, description=_TEXT)
    html: str | None = Field(default=None, max_length=MAX_BODY_SOURCE, description=_HTML)
    sample_data: dict[str, Any] = Field(default_factory=dict, description=_SAMPLE)
    default_channels: list[str] = Field(
        default_factory=list, max_length=MAX_DEFAULT_CHANNELS, description=_CHANNELS
    )

    def to_spec(self) -> TemplateSpec:
        """The template this body describes (validated further by the store)."""
        return TemplateSpec(
            name=self.name,
            subject=self.subject,
            text=self.text,
            html=self.html,
            sample_data=self.sample_data,
            default_channels=tuple(self.default_channels),
        )


class TemplatePatch(PatchBody):
    """Fields to change; absent ones stay. `null` drops the HTML part and empties
    `sample_data` and `default_channels`. The whole template is rendered again."""

    not_null = ("subject", "text")
    subject: str | None = Field(default=None, min_length=1, max_length=MAX_SUBJECT_SOURCE)
    text: str | None = Field(default=None, min_length=1, max_length=MAX_BODY_SOURCE)
    html: str | None = Field(default=None, max_length=MAX_BODY_SOURCE)
    sample_data: dict[str, Any] | None = None
    default_channels: list[str] | None = Field(default=None, max_length=MAX_DEFAULT_CHANNELS)


class TemplateOut(RecordOut):
    """A stored template."""

    id: uuid.UUID
    name: str
    subject: str
    text: str
    html: str | None
    sample_data: dict[str, Any]
    default_channels: list[str]
    created_at: datetime
    updated_at: datetime


class TemplatePage(Page[TemplateOut]):
    """A page of templates, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""


class PreviewIn(BaseModel):
    """What to render the template against (its `sample_data` when `data` is absent)."""

    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] | None = Field(default=None, description="The template's variables.")


class PreviewOut(BaseModel):
    """The message the template renders to, as a send would make it."""

    subject: str
    text: str
    html: str | None

    @classmethod
    def from_rendered(cls, rendered: Rendered) -> PreviewOut:
        """The JSON form of a rendered message."""
        return cls(subject=rendered.subject, text=rendered.text, html=rendered.html)
