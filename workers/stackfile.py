"""The dev stack's settings file: ``taskyard dev`` writes it, processes started beside it read it.

``<var dir>/dev.env`` (``$TASKYARD_VAR_DIR``, else ``./var``) holds the broker, store and API
of the stack ``taskyard dev`` runs there, so that a CLI command or ``celery -A workers.app``
started from the same directory talks to that stack with no variable set. It applies only
when the environment names none of :data:`STACK_VARIABLES`: a process never mixes the dev
stack's broker with another store. While the stack runs, ``taskyard dev`` holds an exclusive
lock on the file; a file nobody holds is left from a stack that stopped.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

VAR_DIR_ENV = "TASKYARD_VAR_DIR"
DEFAULT_VAR_DIR = "var"
STACK_FILE = "dev.env"
#: Any of these in the environment means "another stack": the file is then ignored as a whole.
STACK_VARIABLES = ("TASKYARD_BROKER_URL", "TASKYARD_DATABASE_URL", "TASKYARD_REDIS_URL")
#: How long ``taskyard dev`` waits for a reader's momentary shared lock before giving up.
LOCK_WAIT_S = 2.0

Source = Literal["environment", "dev stack", "defaults"]


class StackFileBusy(Exception):
    """Another ``taskyard dev`` holds the settings file of this var directory."""


def stack_file(environ: Mapping[str, str] = os.environ) -> Path:
    """``dev.env`` in ``$TASKYARD_VAR_DIR``, else in ``./var`` (relative to the cwd)."""
    return Path(environ.get(VAR_DIR_ENV) or DEFAULT_VAR_DIR) / STACK_FILE


def names_a_stack(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment names a broker, store or Redis of its own."""
    return any(environ.get(name) for name in STACK_VARIABLES)


def applicable_file(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The dev stack's settings file this process reads, or ``None`` when none applies."""
    if names_a_stack(environ):
        return None
    path = stack_file(environ)
    return path if path.is_file() else None


def settings_source(environ: Mapping[str, str] = os.environ) -> Source:
    """Where this process's broker and store come from."""
    if names_a_stack(environ):
        return "environment"
    return "dev stack" if applicable_file(environ) is not None else "defaults"


def is_live(path: Path) -> bool:
    """Whether a running ``taskyard dev`` holds ``path`` (its lock dies with the process)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # also releases the shared lock taken when nobody held it
    return False


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Hold ``path`` exclusively until the block ends, marking its stack as running."""
    with path.open("rb") as file:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # A reader's shared lock lasts microseconds; another stack's lasts for ever.
                if time.monotonic() > deadline:
                    raise StackFileBusy(str(path)) from None
                time.sleep(0.05)
        yield


def dotenv_line(name: str, value: str) -> str:
    """``NAME='value'`` as python-dotenv reads it back unchanged."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"{name}='{escaped}'"
