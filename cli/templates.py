"""``taskyard templates``: add notification templates (rendered against their sample data
before they are stored), list, show, preview and remove them."""

from __future__ import annotations

import json

import click

from cli.options import json_object, limit_option, read_text_file
from cli.output import Rows, console, fields_table, note, truncated, when
from cli.resources import in_option_words, remove_command
from tasks.notifications import template_store as store
from tasks.notifications.errors import InvalidTemplate
from tasks.notifications.templates import TemplateSpec
from workers.store.models import Template

COLUMNS = ("name", "subject", "html", "default channels", "updated")
#: The store's field names as the options of ``add`` that set them, for error messages.
ADD_OPTIONS = {"name": "NAME", "subject": "--subject", "text": "--text-file",
               "html": "--html-file", "sample_data": "--sample-data",
               "default_channels": "--channel"}  # fmt: skip


def _row(record: Template) -> tuple[str, ...]:
    return (
        record.name,
        truncated(record.subject, 60),
        "yes" if record.html is not None else "no",
        ", ".join(record.default_channels) or "-",
        when(record.updated_at),
    )


TEMPLATES = Rows(COLUMNS, _row)


@click.group()
def templates() -> None:
    """Notification templates: add, list, show, preview, remove (Jinja2, sandboxed)."""


@templates.command()
@click.argument("name")
@click.option("--subject", required=True, metavar="TEXT", help="Subject source (Jinja2).")
@click.option("--text-file", required=True, metavar="PATH", help="Text body source file.")
@click.option("--html-file", metavar="PATH", help="HTML body source file (autoescaped).")
@click.option(
    "--sample-data", default="{}", show_default=True, metavar="JSON", help="Data it must render."
)
@click.option("--channel", "channels", multiple=True, metavar="NAME", help="A default channel.")
def add(
    name: str,
    subject: str,
    text_file: str,
    html_file: str | None,
    sample_data: str,
    channels: tuple[str, ...],
) -> None:
    """Add template NAME after rendering it against --sample-data; prints its id last."""
    spec = TemplateSpec(
        name=name,
        subject=subject,
        text=read_text_file("--text-file", text_file) or "",
        html=read_text_file("--html-file", html_file),
        sample_data=json_object("--sample-data", sample_data),
        default_channels=channels,
    )
    with in_option_words(InvalidTemplate, ADD_OPTIONS):
        record = store.create_template(spec)
    note(f"Added template {record.name!r}; it renders against its sample data.")
    click.echo(str(record.id))


@templates.command(name="list")
@limit_option(100)
def list_(limit: int) -> None:
    """Templates, newest first: subject, whether there is an HTML part, default channels."""
    empty = ("No templates yet; add one with "
             "`taskyard templates add NAME --subject TEXT --text-file PATH`.")  # fmt: skip
    TEMPLATES.print_newest(store.list_templates(None, limit + 1), limit, empty, "template")


@templates.command()
@click.argument("name")
def show(name: str) -> None:
    """Template NAME: its sources, sample data and default channels."""
    record = store.find_template(name)
    fields = [
        ("id", str(record.id)),
        ("name", record.name),
        ("subject", record.subject),
        ("default channels", ", ".join(record.default_channels) or "-"),
        ("sample data", json.dumps(record.sample_data, ensure_ascii=False)),
        ("created", when(record.created_at)),
        ("updated", when(record.updated_at)),
    ]
    out = console()
    out.print(fields_table(fields))
    out.print(f"\n--- text ---\n{record.text}")
    if record.html is not None:
        out.print(f"\n--- html ---\n{record.html}")


@templates.command()
@click.argument("name")
@click.option("--data", metavar="JSON", help="Render against this (default: the sample data).")
def preview(name: str, data: str | None) -> None:
    """Render template NAME as a send would: subject, text and HTML."""
    record = store.find_template(name)
    with in_option_words(InvalidTemplate, {"data": "--data"}):
        rendered = store.preview(record, None if data is None else json_object("--data", data))
    out = console()
    out.print(f"Subject: {rendered.subject}\n\n--- text ---\n{rendered.text}")
    if rendered.html is not None:
        out.print(f"\n--- html ---\n{rendered.html}")


templates.add_command(
    remove_command("Template", store.find_template, store.delete_template, "Remove template NAME.")
)
