"""``taskyard dev``: the whole platform on one machine, every Procfile process and a mail
catcher supervised."""

from __future__ import annotations

import os
import shlex
import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

import click
from click.core import ParameterSource
from honcho.environ import expand_processes, parse_procfile

from cli.devmail import DEV_MAIL_CHANNEL
from cli.devstack import (
    ADMIN_KEY_FILE,
    LOOPBACK,
    Endpoint,
    Stack,
    check_not_running,
    check_ports,
    prepare,
    publish_settings,
    settle_mail_port,
)
from cli.mailcatcher import DEFAULT_MAIL_PORT, MAIL_DIR, NO_AIOSMTPD, available
from cli.output import masked, note
from cli.paths import PROCFILE, project_root
from cli.supervisor import Supervisor
from workers.observability.multiproc import setup_multiprocess_metrics
from workers.stackfile import DEFAULT_VAR_DIR, STACK_FILE, VAR_DIR_ENV

PORTS = click.IntRange(1, 65535)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _handle_sigterm_until_done(cleanup: ExitStack) -> None:
    """Treat SIGTERM like Ctrl-C until the supervisor takes over; restore both at the end."""
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


def activate_command(root: Path) -> str:
    """``. .venv/bin/activate && `` when ``taskyard`` runs from a virtualenv, else nothing."""
    activate = Path(sys.executable).parent / "activate"
    if not activate.is_file():
        return ""
    shown = activate.relative_to(root) if activate.is_relative_to(root) else activate
    return f". {shlex.quote(str(shown))} && "


def banner(stack: Stack) -> list[str]:
    """What an operator needs to start using the stack: URLs, credentials, a first request."""
    user, _, password = stack.flower_auth.partition(":")
    broker = "embedded Redis, " if stack.embedded_broker else ""
    return [
        "Taskyard dev stack",
        f"  API docs   {stack.api.url}/docs",
        f"  Metrics    {stack.api.url}/metrics",
        f"  Flower     {stack.flower.url}  (user {user}, password {password})",
        f"  Mail       smtp://{stack.mail.host}:{stack.mail.port} keeps every message in "
        f"{stack.var_dir / MAIL_DIR}",
        f"             (channel {DEV_MAIL_CHANNEL}: `taskyard channels test {DEV_MAIL_CHANNEL}`)",
        f"  Admin key  {stack.admin_key}  (saved in {stack.var_dir / ADMIN_KEY_FILE})",
        f"  Broker     {broker}{masked(stack.broker_url)}",
        f"  Store      {masked(stack.database_url)} (revision {stack.revision})",
        f"  Settings   {stack.var_dir / STACK_FILE} (`taskyard` and `celery -A workers.app`",
        "             run from this directory use this stack)",
        "  Enqueue a job from another terminal in this directory:",
        f"    {activate_command(stack.root)}taskyard jobs enqueue diag.noop",
        "  or over HTTP:",
        f"    {enqueue_example(stack)}",
        "Starting every Procfile process and the mail catcher (one that exits is restarted); "
        "Ctrl-C stops them all.",
        "",
    ]


def mail_catcher_command(stack: Stack) -> str:
    """The dev stack's own process, beside the Procfile's (a deployment has no catcher)."""
    directory = shlex.quote(str(stack.var_dir / MAIL_DIR))
    return (
        f"taskyard mail-catcher --host {stack.mail.host} --port {stack.mail.port} "
        f"--directory {directory}"
    )


def run_procfile(stack: Stack) -> int:
    """Run every Procfile process and the mail catcher, restarting any that exits, until
    SIGINT or SIGTERM."""
    procfile = parse_procfile((stack.root / PROCFILE).read_text(encoding="utf-8"))
    supervisor = Supervisor()
    environment = stack.environment()
    for process in expand_processes(procfile.processes, env=environment):
        supervisor.add(process.name, process.cmd, env=process.env, cwd=stack.root)
    if available():
        supervisor.add("mail-catcher", mail_catcher_command(stack), environment, stack.root)
    else:
        note(f"taskyard dev: no mail catcher: {NO_AIOSMTPD}")
    return supervisor.run()


@click.command()
@click.option(
    "--api-port", type=PORTS, default=8000, envvar="TASKYARD_API_PORT", show_default=True,
    help="The API's port (env TASKYARD_API_PORT).",
)  # fmt: skip
@click.option(
    "--flower-port", type=PORTS, default=5555, envvar="TASKYARD_FLOWER_PORT", show_default=True,
    help="Flower's port (env TASKYARD_FLOWER_PORT).",
)  # fmt: skip
@click.option(
    "--mail-port", type=PORTS, default=DEFAULT_MAIL_PORT, envvar="TASKYARD_MAIL_PORT",
    show_default=True,
    help="The mail catcher's SMTP port (env TASKYARD_MAIL_PORT); when left unset and taken, "
    "the next free one.",
)  # fmt: skip
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_VAR_DIR,
    envvar=VAR_DIR_ENV,
    show_default=True,
    help="Local state: SQLite store, Redis data, saved secrets (env TASKYARD_VAR_DIR).",
)
@click.pass_context
def dev(ctx: click.Context, api_port: int, flower_port: int, mail_port: int, var_dir: Path) -> None:
    """Run the whole platform locally until Ctrl-C.

    Starts an embedded Redis unless TASKYARD_BROKER_URL is set, uses SQLite in the var
    directory unless TASKYARD_DATABASE_URL is set, applies migrations, ensures an admin API
    key and Flower credentials, then runs the API, workers, beat and Flower from the Procfile,
    and a mail catcher keeping every message in mail/ in the var directory, which the dev-mail
    channel (made when missing, with a sample `welcome` template) sends to.
    A process that exits is restarted after a back-off (1 s, doubling to 30 s). The stack's
    settings go to dev.env in the var directory, so that `taskyard` and `celery -A workers.app`
    run from this directory use this stack.
    """
    root = project_root()
    var_dir = var_dir.resolve()
    api = Endpoint(os.environ.get("TASKYARD_API_HOST", "127.0.0.1"), api_port, "--api-port")
    flower = Endpoint(
        os.environ.get("TASKYARD_FLOWER_HOST", "127.0.0.1"), flower_port, "--flower-port"
    )
    mail = Endpoint(LOOPBACK, mail_port, "--mail-port")
    check_not_running(var_dir)
    if ctx.get_parameter_source("mail_port") is ParameterSource.DEFAULT:
        check_ports(api, flower)
        mail = settle_mail_port(mail, (api, flower))
    else:
        check_ports(api, flower, mail)
    # One metrics directory for the whole stack, so the API's /metrics shows every process.
    setup_multiprocess_metrics()
    with ExitStack() as cleanup:
        _handle_sigterm_until_done(cleanup)
        try:
            stack = prepare(root, var_dir, api, flower, mail, cleanup)
            publish_settings(stack, cleanup)
            click.echo("\n".join(banner(stack)))
            run_procfile(stack)
        except KeyboardInterrupt:
            pass
    note("taskyard dev: every process is stopped.")
