"""Where the CLI keeps and finds things: the var directory, the project root, secret files."""

from __future__ import annotations

import os
from pathlib import Path

from cli.output import CliError
from workers.stackfile import DEFAULT_VAR_DIR, VAR_DIR_ENV

PROCFILE = "Procfile"


def var_dir() -> Path:
    """The directory for local state: ``$TASKYARD_VAR_DIR``, else ``./var`` (absolute)."""
    return Path(os.environ.get(VAR_DIR_ENV) or DEFAULT_VAR_DIR).resolve()


def project_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (the cwd) holding a Procfile."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / PROCFILE).is_file():
            return directory
    raise CliError(
        f"no {PROCFILE} in {here} or any parent directory; run this from the Taskyard checkout"
    )


def read_secret(path: Path) -> str | None:
    """The stripped contents of ``path``, or ``None`` when it is missing or empty."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (mode 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, f"{text}\n".encode())
    finally:
        os.close(descriptor)
    os.replace(partial, path)
