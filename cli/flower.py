"""``taskyard flower``: Flower with authentication, events and persistence, or not at all.

Flower runs as one process and records none of Taskyard's metrics, so, unlike the other
entry points, it sets up no multiprocess metrics directory of its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from cli.output import CliError
from cli.paths import var_dir
from workers.settings import get_settings

#: Workers not heard from for this long disappear from Flower's dashboard.
PURGE_OFFLINE_WORKERS_S = 600
NO_CREDENTIALS = (
    "Flower refuses to start without credentials; set TASKYARD_FLOWER_BASIC_AUTH=user:password "
    "(`taskyard dev` generates them)"
)


@dataclass(frozen=True)
class FlowerCommand:
    """What to exec: the argument vector (no secrets) and the environment (with them)."""

    argv: list[str]
    env: dict[str, str]


def flower_command(
    address: str, port: int, basic_auth: str, state_dir: Path, environ: Mapping[str, str]
) -> FlowerCommand:
    """The Flower invocation; credentials travel in FLOWER_BASIC_AUTH, never in ``argv``."""
    argv = [
        sys.executable, "-m", "celery", "-A", "workers.app", "flower",
        f"--address={address}",
        f"--port={port}",
        "--persistent=True",
        f"--db={state_dir / 'flower.db'}",
        f"--purge_offline_workers={PURGE_OFFLINE_WORKERS_S}",
    ]  # fmt: skip
    return FlowerCommand(argv, {**environ, "FLOWER_BASIC_AUTH": basic_auth})


@click.command()
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=5555, show_default=True)
def flower(address: str, port: int) -> None:
    """Run Flower with authentication and persistent state.

    Credentials come from TASKYARD_FLOWER_BASIC_AUTH (user:password) and reach Flower through
    its environment, never its command line; its state lives in $TASKYARD_VAR_DIR (./var).
    """
    credentials = get_settings().flower_basic_auth
    if credentials is None:
        raise CliError(NO_CREDENTIALS)
    state_dir = var_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    command = flower_command(address, port, credentials.get_secret_value(), state_dir, os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: Flower takes over this process, so signals reach it directly.
    os.execve(command.argv[0], command.argv, command.env)  # noqa: S606 (argv, no shell)
