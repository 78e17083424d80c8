"""Notification templates: create (rendered against its sample data first), list a page at a
time, read, edit, remove, and preview against any data. Everything needs `admin`; template
errors (422 invalid, 404 unknown, 409 taken) are answered by the table in ``workers/errors.py``."""

from __future__ import annotations

from fastapi import APIRouter

from api import template_schemas as schemas
from api.auth import AdminKey
from api.resource_routes import ResourceRoutes
from api.schemas import error_responses
from tasks.notifications import template_store as store
from tasks.notifications.errors import TemplateNotFound

router = APIRouter(prefix="/v1/templates", tags=["templates"])
templates = ResourceRoutes(router, "template", TemplateNotFound, schemas.TemplateOut)
templates.add_create(
    "Create a template",
    """Store a template after rendering every part against `sample_data`: 422
    `invalid_template` naming the part and line for a syntax error, an undefined variable or
    a refusal of the sandbox; 409 when the name is taken. Needs `admin`.""",
    schemas.TemplateIn,
    lambda body: store.create_template(body.to_spec()),
)
templates.add_list(
    "List templates",
    "Templates, newest first, a page at a time. Needs `admin`.",
    schemas.TemplatePage,
    store.list_templates,
)
templates.add_get("Get a template", "One template. Needs `admin`.", store.get_template)
templates.add_update(
    "Edit a template",
    """Change the fields sent; the template is rendered again against its (new) sample data
    and nothing changes when it fails (422). Needs `admin`.""",
    schemas.TemplatePatch,
    store.update_template,
)
templates.add_delete(
    "Remove a template", "Remove a template. Needs `admin`.", store.delete_template
)


@router.post(
    "/{template_id}/preview",
    summary="Preview a template",
    responses=error_responses(401, 403, 404, 422, 503),
)
def preview_template(
    template_id: str, body: schemas.PreviewIn, key: AdminKey
) -> schemas.PreviewOut:
    """Render the template against `data` (its sample data when absent) as a send would:
    the subject, text and HTML, or 422 `invalid_template` naming the part and line. Needs
    `admin`."""
    record = store.get_template(templates.id(template_id))
    return schemas.PreviewOut.from_rendered(store.preview(record, body.data))
