"""The ``taskyard`` command: group wiring and the one place failures become one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from cli import (
    alerts,
    api,
    audit,
    channels,
    datakeys,
    db,
    dead_letters,
    dev,
    dispatcher,
    doctor,
    flower,
    jobs,
    keys,
    mailcatcher,
    notifications,
    poison,
    queues,
    schedules,
    silences,
    status,
    subscriptions,
    templates,
    workers,
)
from cli.failures import from_store_error, from_taskyard_error
from cli.maintenance import maintenance
from cli.output import EXIT_INTERRUPTED, EXIT_USAGE, PROG, CliError, error_line, note
from workers.errors import TaskyardError

#: Commands that judge the dev stack's state themselves (``dev`` replaces a stopped one), or
#: need no stack (the mail catcher only writes files).
OWN_STACK_CHECK = frozenset({"dev", "doctor", "mail-catcher"})
HELP_ONLY = "taskyard.help_only"


def _usage_line(error: click.UsageError) -> str:
    where = error.ctx.command_path if error.ctx is not None else PROG
    message = error.format_message().rstrip(".")
    return f"{message[:1].lower()}{message[1:]}; see `{where} --help`"


class TaskyardGroup(click.Group):
    """A click group whose every failure is one stderr line and a meaningful exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        """Run the command; exit (or return, when not standalone) with its exit code."""
        code = self._run(args, prog_name or PROG, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self, args: Sequence[str] | None, prog_name: str, complete_var: str | None, **extra: Any
    ) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.format_message())
            return 0
        except click.UsageError as error:
            error_line(_usage_line(error))
            return EXIT_USAGE
        except click.ClickException as error:
            error.show()
            return error.exit_code
        except click.Abort:
            error_line("interrupted")
            return EXIT_INTERRUPTED
        except TaskyardError as error:
            return _report(from_taskyard_error(error))
        except SQLAlchemyError as error:
            return _report(from_store_error(error))
        return result if isinstance(result, int) else 0

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Resolve as click does, noting whether the command line only asks for help."""
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[HELP_ONLY] = command is None or _shows_help(ctx, command, rest)
        return name, command, rest


def _shows_help(ctx: click.Context, command: click.Command, args: list[str]) -> bool:
    """Whether ``command args`` prints help only: a help flag, or a group with no subcommand."""
    if any(arg in ctx.help_option_names for arg in args):
        return True
    while isinstance(command, click.Group):
        if not args:
            return command.no_args_is_help
        found = command.get_command(ctx, args[0])
        if found is None:
            return True  # click answers with a usage error; no stack is needed for that
        command, args = found, args[1:]
    return False


def _report(error: CliError) -> int:
    error.show()
    return error.exit_code


@click.group(
    name=PROG,
    cls=TaskyardGroup,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="taskyard", prog_name=PROG)
@click.option(
    "-v", "--verbose", is_flag=True,
    help="Say on stderr which broker and store the command uses, and where they come from.",
)  # fmt: skip
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Operate Taskyard: API keys, jobs, dead letters, the job store, Flower and the dev stack.

    Settings come from TASKYARD_* environment variables (TASKYARD_DATABASE_URL,
    TASKYARD_BROKER_URL, ...), else from var/dev.env, which `taskyard dev` (`make run`)
    writes for the stack it runs from this directory. Start everything locally with
    `taskyard dev`; `taskyard doctor` checks that the pieces form one stack.
    """
    if ctx.invoked_subcommand == "dev" or ctx.meta.get(HELP_ONLY):
        return
    if verbose:
        note(f"{PROG}: {doctor.settings_line()}")
    if ctx.invoked_subcommand not in OWN_STACK_CHECK:
        doctor.require_running_stack()


# What the platform holds (keys, jobs, dead letters, poison messages, schedules, templates,
# channels, notifications and their deliveries, subscriptions, alert rules, silences) and the
# store's schema.
cli.add_command(keys.keys)
keys.keys.add_command(datakeys.rotate_data)
keys.keys.add_command(datakeys.new_data_key)
cli.add_command(jobs.jobs)
cli.add_command(dead_letters.dead_letters)
cli.add_command(dead_letters.dlq)
cli.add_command(poison.poison)
cli.add_command(queues.queues)
cli.add_command(schedules.schedules)
cli.add_command(templates.templates)
cli.add_command(channels.channels)
cli.add_command(notifications.notifications)
cli.add_command(notifications.deliveries)
cli.add_command(subscriptions.subscriptions)
cli.add_command(alerts.alerts)
cli.add_command(silences.silences)
cli.add_command(audit.audit)
cli.add_command(db.db)
# Maintenance, then the processes and the stack they form.
cli.add_command(maintenance)
cli.add_command(api.api)
cli.add_command(dispatcher.dispatcher)
cli.add_command(workers.workers)
cli.add_command(flower.flower)
cli.add_command(mailcatcher.mail_catcher)
cli.add_command(dev.dev)
cli.add_command(doctor.doctor)
cli.add_command(status.status)
cli.add_command(status.top)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name=PROG)
