"""``taskyard templates``: add notification templates (rendered against their sample data
before they are stored), list, show, preview and remove them."""

from __future__ import annotations

import json

import click

from cli import options
from cli.output import Rows, console, note, truncated, when
from cli.resources import in_option_words, list_command, remove_command, show_command
from tasks.notifications import template_store as store
from tasks.notifications.errors import InvalidTemplate
from tasks.notifications.templates import TemplateSpec
from workers.store.models import Template

COLUMNS = ("name", "subject", "html", "default channels", "updated")
#: The help of ``list`` and ``show``, and what ``list`` says when there are none.
LIST_HELP = "Templates, newest first: subject, whether there is an HTML part, default channels."
SHOW_HELP = "Template NAME: its sources, sample data and default channels."
NONE_YET = (
    "No templates yet; add one with `taskyard templates add NAME --subject TEXT --text-file PATH`."
)
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
        text=options.read_text_file("--text-file", text_file) or "",
        html=options.read_text_file("--html-file", html_file),
        sample_data=options.json_object("--sample-data", sample_data),
        default_channels=channels,
    )
    with in_option_words(InvalidTemplate, ADD_OPTIONS):
        record = store.create_template(spec)
    note(f"Added template {record.name!r}; it renders against its sample data.")
    click.echo(str(record.id))


@templates.command()
@click.argument("name")
@click.option("--data", metavar="JSON", help="Render against this (default: the sample data).")
def preview(name: str, data: str | None) -> None:
    """Render template NAME as a send would: subject, text and HTML."""
    record = store.find_template(name)
    with in_option_words(InvalidTemplate, {"data": "--data"}):
        rendered = store.preview(
            record, None if data is None else options.json_object("--data", data)
        )
    console().print(f"Subject: {rendered.subject}")
    _print_body(rendered.text, rendered.html)


def _print_body(text: str, html: str | None) -> None:
    """A message's text part, and its HTML part when it has one."""
    out = console()
    out.print(f"\n--- text ---\n{text}")
    if html is not None:
        out.print(f"\n--- html ---\n{html}")


def _fields(record: Template) -> list[tuple[str, str]]:
    return [("name", record.name), ("subject", record.subject),
            ("default channels", ", ".join(record.default_channels) or "-"),
            ("sample data", json.dumps(record.sample_data, ensure_ascii=False))]  # fmt: skip


def _print_sources(record: Template) -> None:
    _print_body(record.text, record.html)


templates.add_command(
    list_command(TEMPLATES, "template", store.list_templates, LIST_HELP, NONE_YET)
)
templates.add_command(show_command(store.find_template, _fields, SHOW_HELP, then=_print_sources))
templates.add_command(
    remove_command("Template", store.find_template, store.delete_template, "Remove template NAME.")
)
