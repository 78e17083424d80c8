"""``taskyard templates``: add notification templates (rendered against their sample data
before they are stored), list, show, preview and remove them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cli.jobs import parse_payload
from cli.output import UsageProblem, console, note, plural, table, truncated, when
from tasks.notifications import template_store as store
from tasks.notifications.errors import InvalidTemplate
from tasks.notifications.templates import TemplateSpec
from workers.store.models import Template

COLUMNS = ("name", "subject", "html", "default channels", "updated")
#: The store's field names as the options of ``add`` that set them, for error messages.
ADD_OPTIONS = {"name": "NAME", "subject": "--subject", "text": "--text-file",
               "html": "--html-file", "sample_data": "--sample-data",
               "default_channels": "--channel"}  # fmt: skip
#: A refusal's leading field name (``text`` in ``text, line 2: ...``).
_FIELD = re.compile(r"^(\w+)(?=(?:, line \d+)?: )")


@contextmanager
def _reported(options: dict[str, str]) -> Iterator[None]:
    """A refused template in the CLI's words: the field it names becomes the option that sets
    it (the exit code comes from ``cli.failures``, as for every error)."""
    try:
        yield
    except InvalidTemplate as error:
        found = _FIELD.search(error.message)  # a prefix: the pattern is anchored with ^
        if found is None or found[1] not in options:
            raise
        message = f"{options[found[1]]}{error.message[found.end() :]}"
        raise InvalidTemplate(message, error.details) from None


def json_object(option: str, text: str) -> dict[str, Any]:
    """The one JSON-object parser of the CLI, its errors naming ``option``."""
    try:
        return parse_payload(text)
    except UsageProblem as error:
        raise UsageProblem(error.message.replace("--payload", option, 1)) from None


def read_text_file(option: str, path: str | None) -> str | None:
    """The UTF-8 text of the file ``option`` names (``None`` when not given), or a usage error."""
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageProblem(f"{option}: {path} is not UTF-8 text") from None
    except OSError as error:
        raise UsageProblem(f"{option}: cannot read {path} ({error.strerror})") from None
    except ValueError:  # a NUL or a lone surrogate: no file has that name
        raise UsageProblem(f"{option}: {path!r} is not a path a file can have") from None


def _row(record: Template) -> tuple[str, ...]:
    return (
        record.name,
        truncated(record.subject, 60),
        "yes" if record.html is not None else "no",
        ", ".join(record.default_channels) or "-",
        when(record.updated_at),
    )


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
    with _reported(ADD_OPTIONS):
        record = store.create_template(spec)
    note(f"Added template {record.name!r}; it renders against its sample data.")
    click.echo(str(record.id))


@templates.command(name="list")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
def list_(limit: int) -> None:
    """Templates, newest first: subject, whether there is an HTML part, default channels."""
    records = store.list_templates(None, limit + 1)
    if not records:
        note("No templates yet; add one with "
             "`taskyard templates add NAME --subject TEXT --text-file PATH`.")  # fmt: skip
        return
    more = None
    if len(records) > limit:
        more = f"the newest {plural(limit, 'template')}; --limit shows more"
    console().print(table(None, COLUMNS, [_row(r) for r in records[:limit]], caption=more))


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
    out.print(table(None, ("field", "value"), fields))
    out.print(f"\n--- text ---\n{record.text}")
    if record.html is not None:
        out.print(f"\n--- html ---\n{record.html}")


@templates.command()
@click.argument("name")
@click.option("--data", metavar="JSON", help="Render against this (default: the sample data).")
def preview(name: str, data: str | None) -> None:
    """Render template NAME as a send would: subject, text and HTML."""
    record = store.find_template(name)
    with _reported({"data": "--data"}):
        rendered = store.preview(record, None if data is None else json_object("--data", data))
    out = console()
    out.print(f"Subject: {rendered.subject}\n\n--- text ---\n{rendered.text}")
    if rendered.html is not None:
        out.print(f"\n--- html ---\n{rendered.html}")


@templates.command()
@click.argument("name")
def remove(name: str) -> None:
    """Remove template NAME."""
    store.delete_template(store.find_template(name).id)
    click.echo(f"Template {name!r} is removed.")
