"""Notification templates: create (rendered against its sample data first), list a page at a
time, read, edit, remove, and preview against any data. Everything needs `admin`; template
errors (422 invalid, 404 unknown, 409 taken) are answered by the table in ``api/errors.py``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.auth import AdminKey
from api.listing import Cursor, Limit, fetch_page
from api.resources import non_null, path_id
from api.schemas import error_responses
from api.template_schemas import (
    NOT_NULL,
    PreviewIn,
    PreviewOut,
    TemplateIn,
    TemplateOut,
    TemplatePage,
    TemplatePatch,
)
from tasks.notifications import template_store as store
from tasks.notifications.errors import TemplateNotFound

router = APIRouter(prefix="/v1/templates", tags=["templates"])


def _template_id(template_id: str) -> uuid.UUID:
    return path_id(template_id, "template", TemplateNotFound.code)


@router.post(
    "",
    status_code=201,
    summary="Create a template",
    responses=error_responses(401, 403, 409, 422, 503),
)
def create_template(body: TemplateIn, key: AdminKey) -> TemplateOut:
    """Store a template after rendering every part against `sample_data`: 422
    `invalid_template` naming the part and line for a syntax error, an undefined variable or
    a refusal of the sandbox; 409 when the name is taken. Needs `admin`."""
    return TemplateOut.from_record(store.create_template(body.to_spec()))


@router.get("", summary="List templates", responses=error_responses(401, 403, 422, 503))
def list_templates(key: AdminKey, limit: Limit = 50, cursor: Cursor = None) -> TemplatePage:
    """Templates, newest first, a page at a time. Needs `admin`."""
    page, next_cursor = fetch_page(store.list_templates, cursor, limit)
    return TemplatePage(items=[TemplateOut.from_record(r) for r in page], next_cursor=next_cursor)


@router.get("/{template_id}", summary="Get a template", responses=error_responses(401, 403, 404))
def get_template(template_id: str, key: AdminKey) -> TemplateOut:
    """One template. Needs `admin`."""
    return TemplateOut.from_record(store.get_template(_template_id(template_id)))


@router.patch(
    "/{template_id}",
    summary="Edit a template",
    responses=error_responses(401, 403, 404, 422, 503),
)
def update_template(template_id: str, body: TemplatePatch, key: AdminKey) -> TemplateOut:
    """Change the fields sent; the template is rendered again against its (new) sample data
    and nothing changes when it fails (422). Needs `admin`."""
    changes = non_null(body.changes(), NOT_NULL)
    return TemplateOut.from_record(store.update_template(_template_id(template_id), changes))


@router.delete(
    "/{template_id}",
    status_code=204,
    summary="Remove a template",
    responses=error_responses(401, 403, 404, 503),
)
def delete_template(template_id: str, key: AdminKey) -> Response:
    """Remove a template. Needs `admin`."""
    store.delete_template(_template_id(template_id))
    return Response(status_code=204)


@router.post(
    "/{template_id}/preview",
    summary="Preview a template",
    responses=error_responses(401, 403, 404, 422, 503),
)
def preview_template(template_id: str, body: PreviewIn, key: AdminKey) -> PreviewOut:
    """Render the template against `data` (its sample data when absent) as a send would:
    the subject, text and HTML, or 422 `invalid_template` naming the part and line. Needs
    `admin`."""
    record = store.get_template(_template_id(template_id))
    return PreviewOut.from_rendered(store.preview(record, body.data))
