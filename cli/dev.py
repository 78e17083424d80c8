"""``taskyard dev``: the whole platform on one machine, every Procfile process under honcho."""

from __future__ import annotations

import os
import shlex
import signal
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

import click
from honcho.environ import expand_processes, parse_procfile
from honcho.manager import Manager

from cli.devstack import ADMIN_KEY_FILE, Endpoint, Stack, check_ports, prepare
from cli.output import EXIT_INTERRUPTED, CliError, masked, note
from cli.paths import DEFAULT_VAR_DIR, PROCFILE, VAR_DIR_ENV, project_root
from workers.observability.multiproc import setup_multiprocess_metrics

#: honcho's return code when SIGINT or SIGTERM stopped it (not a process exiting on its own).
STOPPED_BY_SIGNAL = frozenset({130, 143})
PORTS = click.IntRange(1, 65535)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _handle_sigterm_until_done(cleanup: ExitStack) -> None:
    """Treat SIGTERM like Ctrl-C until honcho takes over; restore both handlers at the end."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        cleanup.callback(signal.signal, signum, signal.getsignal(signum))
    signal.signal(signal.SIGTERM, _raise_interrupt)


def enqueue_example(stack: Stack) -> str:
    """A copy-paste curl that enqueues ``diag.noop`` on this stack."""
    body = '{"type": "diag.noop", "payload": {}}'
    return (
        f"curl -sS -X POST {stack.api.url}/v1/jobs "
        f"-H {shlex.quote(f'Authorization: Bearer {stack.admin_key}')} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def banner(stack: Stack) -> list[str]:
    """What an operator needs to start using the stack: URLs, credentials, a first request."""
    user, _, password = stack.flower_auth.partition(":")
    broker = "embedded Redis, " if stack.embedded_broker else ""
    return [
        "Taskyard dev stack",
        f"  API docs   {stack.api.url}/docs",
        f"  Metrics    {stack.api.url}/metrics",
        f"  Flower     {stack.flower.url}  (user {user}, password {password})",
        f"  Admin key  {stack.admin_key}  (saved in {stack.var_dir / ADMIN_KEY_FILE})",
        f"  Broker     {broker}{masked(stack.broker_url)}",
        f"  Store      {masked(stack.database_url)} (revision {stack.revision})",
        "  Enqueue a job:",
        f"    {enqueue_example(stack)}",
        "Starting every Procfile process; press Ctrl-C to stop them all.",
        "",
    ]


def run_procfile(stack: Stack) -> int:
    """Run every Procfile process under honcho until one stops or a signal arrives."""
    procfile = parse_procfile((stack.root / PROCFILE).read_text(encoding="utf-8"))
    manager = Manager()
    for process in expand_processes(procfile.processes, env=stack.environment()):
        manager.add_process(process.name, process.cmd, env=process.env, cwd=str(stack.root))
    manager.loop()
    return int(manager.returncode or 0)


@click.command()
@click.option("--api-port", type=PORTS, default=8000, show_default=True, help="The API's port.")
@click.option("--flower-port", type=PORTS, default=5555, show_default=True, help="Flower's port.")
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_VAR_DIR,
    envvar=VAR_DIR_ENV,
    show_default=True,
    help="Local state: SQLite store, Redis data, saved secrets (env TASKYARD_VAR_DIR).",
)
def dev(api_port: int, flower_port: int, var_dir: Path) -> None:
    """Run the whole platform locally until Ctrl-C.

    Starts an embedded Redis unless TASKYARD_BROKER_URL is set, uses SQLite in the var
    directory unless TASKYARD_DATABASE_URL is set, applies migrations, ensures an admin API
    key and Flower credentials, then runs the API, workers, beat and Flower from the Procfile.
    """
    root = project_root()
    api = Endpoint(os.environ.get("TASKYARD_API_HOST", "127.0.0.1"), api_port, "--api-port")
    flower = Endpoint(
        os.environ.get("TASKYARD_FLOWER_HOST", "127.0.0.1"), flower_port, "--flower-port"
    )
    check_ports(api, flower)
    # One metrics directory for the whole stack, so the API's /metrics shows every process.
    setup_multiprocess_metrics()
    with ExitStack() as cleanup:
        _handle_sigterm_until_done(cleanup)
        try:
            stack = prepare(root, var_dir.resolve(), api, flower, cleanup)
            click.echo("\n".join(banner(stack)))
            code = run_procfile(stack)
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
    if code not in STOPPED_BY_SIGNAL:
        raise CliError(
            f"a stack process exited on its own (rc={code}), so every process was stopped; "
            "its output above says why"
        )
    note("taskyard dev: every process is stopped.")
