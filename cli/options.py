"""Options several commands share, and the one reader of each kind of option value: a JSON
object, a text file. Used as ``@options.queue(help)``; each command keeps its own help text."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.output import UsageProblem
from cli.timestamps import RFC3339
from workers.priorities import MAX_PRIORITY, MIN_PRIORITY
from workers.queues import QUEUE_ORDER
from workers.storable import MAX_DEPTH

F = TypeVar("F", bound=Callable[..., Any])
MAX_DELAY_S = 365 * 24 * 3600
MAX_KEY = 200
QUEUES = click.Choice([q.value for q in QUEUE_ORDER])
PRIORITIES = click.IntRange(MIN_PRIORITY, MAX_PRIORITY)


def json_object(option: str, text: str) -> dict[str, Any]:
    """The one JSON-object parser of the CLI: ``text`` as an object, or a usage error naming
    ``option`` and what is wrong."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageProblem(
            f"{option} is not valid JSON ({error.msg} at line {error.lineno} column "
            f"{error.colno}); pass an object such as '{{\"ms\": 100}}'"
        ) from None
    except ValueError:  # Python reads no integer of more than 4300 digits
        raise UsageProblem(
            f"{option} holds a number too long to read; integers in a payload fit in 64 bits"
        ) from None
    except RecursionError:
        raise UsageProblem(
            f"{option} nests too deeply; a payload holds at most {MAX_DEPTH} levels"
        ) from None
    if not isinstance(value, dict):
        raise UsageProblem(f"{option} must be a JSON object, not {type(value).__name__}")
    return value


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


def check_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A deduplication key: 1 to 200 characters."""
    if value is not None and not 1 <= len(value) <= MAX_KEY:
        raise click.BadParameter(f"must be 1 to {MAX_KEY} characters long", ctx, param)
    return value


def key(flag: str, help_text: str) -> Callable[[F], F]:
    """``flag KEY``: a deduplication key (``--idempotency-key``, ``--unique-key``, ...)."""
    return click.option(flag, metavar="KEY", callback=check_key, help=help_text)


def queue(help_text: str) -> Callable[[F], F]:
    """``--queue``: one of the four queues."""
    return click.option("--queue", type=QUEUES, help=help_text)


def priority(help_text: str) -> Callable[[F], F]:
    """``--priority``: 0-9, 9 the most urgent."""
    return click.option("--priority", type=PRIORITIES, help=help_text)


def delay(help_text: str) -> Callable[[F], F]:
    """``--delay SECONDS`` (as ``delay_s``): from now, at most a year."""
    return click.option(
        "--delay", "delay_s", type=click.FloatRange(0, MAX_DELAY_S), metavar="SECONDS",
        help=help_text,
    )  # fmt: skip


def run_at(help_text: str) -> Callable[[F], F]:
    """``--run-at RFC3339``: a time with a time zone."""
    return click.option("--run-at", type=RFC3339, help=help_text)


def limit(default: int, most: int = 500) -> Callable[[F], F]:
    """``--limit``: how many rows a list shows, 1 to ``most``."""
    return click.option("--limit", type=click.IntRange(1, most), default=default, show_default=True)
