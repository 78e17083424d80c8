"""Old command names kept working after a rename: hidden from the listing, their help says
what to use instead (README lists them as deprecated)."""

from __future__ import annotations

import copy
from typing import TypeVar

import click

C = TypeVar("C", bound=click.Command)


def deprecated_alias(command: C, old_name: str, new_path: str) -> C:
    """``command`` also answering to ``old_name``, hidden; a group's copy shares its subcommands."""
    alias = copy.copy(command)
    alias.name = old_name
    alias.hidden = True
    alias.help = f"Deprecated alias of `{new_path}`, which it runs.\n\n{command.help or ''}"
    alias.short_help = f"Deprecated alias of `{new_path}`."
    return alias
