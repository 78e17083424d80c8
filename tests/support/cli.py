"""Running ``taskyard`` in-process and reading its output the way a script would."""

from __future__ import annotations

from click.testing import CliRunner, Result

from cli.main import cli


def run(*args: str, stdin: str | None = None) -> Result:
    """Invoke ``taskyard ARGS`` in this process, stdout and stderr kept apart."""
    return CliRunner().invoke(cli, list(args), input=stdin)


def one_line_failure(result: Result, exit_code: int) -> str:
    """The failure's single stderr line, after checking the exit code and the absence of noise."""
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("taskyard: ")
    assert "Traceback" not in result.output
    return lines[0]


def last_line(result: Result) -> str:
    """Stdout's last line (where commands print the id or key a script wants)."""
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[-1]
