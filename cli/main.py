"""The ``taskyard`` command: group wiring and the one place failures become one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from cli import api, channels, db, dev, dispatcher, dlq, flower, jobs, keys, schedules
from cli.failures import from_store_error, from_taskyard_error
from cli.maintenance import maintenance
from cli.output import PROG, CliError, error_line
from workers.errors import TaskyardError

INTERRUPTED = 130


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
            return 2
        except click.ClickException as error:
            error.show()
            return error.exit_code
        except click.Abort:
            error_line("interrupted")
            return INTERRUPTED
        except TaskyardError as error:
            return _report(from_taskyard_error(error))
        except SQLAlchemyError as error:
            return _report(from_store_error(error))
        return result if isinstance(result, int) else 0


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
def cli() -> None:
    """Operate Taskyard: API keys, jobs, dead letters, the job store, Flower and the dev stack.

    Settings come from TASKYARD_* environment variables (TASKYARD_DATABASE_URL,
    TASKYARD_BROKER_URL, ...). Start everything locally with `taskyard dev`.
    """


cli.add_command(api.api)
cli.add_command(keys.keys)
cli.add_command(jobs.jobs)
cli.add_command(schedules.schedules)
cli.add_command(channels.channels)
cli.add_command(dlq.dlq)
cli.add_command(db.db)
cli.add_command(flower.flower)
cli.add_command(dev.dev)
cli.add_command(dispatcher.dispatcher)
cli.add_command(maintenance)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name=PROG)
