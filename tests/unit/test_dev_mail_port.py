"""Where `taskyard dev` runs its mail catcher: the usual port, the next free one when that is
taken (nothing outside the stack needs it); and a fast one-line failure when a port the
operator chose (API or mail, by option or variable) is taken."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cli.devstack import LOOPBACK, Endpoint, settle_mail_port
from tests.support.cli import one_line_failure, run
from tests.support.devstack import busy_port, free_port


def is_free(port: int) -> bool:
    """Whether a listener could bind ``port`` on loopback now."""
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def endpoint(port: int, flag: str) -> Endpoint:
    return Endpoint(LOOPBACK, port, flag)


def test_a_free_usual_mail_port_is_kept() -> None:
    port = free_port()

    assert settle_mail_port(endpoint(port, "--mail-port"), ()).port == port


def test_a_taken_usual_mail_port_gives_way_to_a_free_one_the_stack_does_not_use() -> None:
    with busy_port() as taken:
        # Given the usual port is taken and the API is to listen on the next one
        api = endpoint(taken + 1, "--api-port")

        # When the stack settles its mail port
        settled = settle_mail_port(endpoint(taken, "--mail-port"), (api,))

        # Then it is another port, free, and not the API's
        assert settled.port not in {taken, api.port}
        assert settled.host == LOOPBACK
        assert is_free(settled.port)


def test_a_mail_port_the_api_takes_gives_way_too() -> None:
    port = free_port()

    settled = settle_mail_port(endpoint(port, "--mail-port"), (endpoint(port, "--api-port"),))

    assert settled.port != port


@pytest.mark.parametrize(
    ("flag", "how"),
    [("--api-port", "option"), ("--mail-port", "option"), ("--mail-port", "variable")],
)
def test_a_chosen_port_that_is_taken_fails_fast(
    monkeypatch: pytest.MonkeyPatch, project_root: Path, tmp_path: Path, flag: str, how: str
) -> None:
    monkeypatch.chdir(project_root)
    variable = f"TASKYARD_{flag[2:].replace('-', '_').upper()}"  # --mail-port: TASKYARD_MAIL_PORT
    ports = {"--api-port": str(free_port()), "--flower-port": str(free_port())}
    with busy_port() as taken:
        if how == "option":
            ports[flag] = str(taken)
        else:
            monkeypatch.setenv(variable, str(taken))
        args = [word for option in ports.items() for word in option]

        line = one_line_failure(run("dev", *args, "--var-dir", str(tmp_path / "v")), 1)

    assert f"port {taken} on 127.0.0.1 is already in use" in line
    assert f"{variable}=" in line
    assert flag in line
    assert not (tmp_path / "v").exists()


def test_a_chosen_mail_port_equal_to_the_api_port_is_bad_input(
    monkeypatch: pytest.MonkeyPatch, project_root: Path, tmp_path: Path
) -> None:
    monkeypatch.chdir(project_root)
    port = str(free_port())
    args = ["--api-port", port, "--flower-port", str(free_port()), "--mail-port", port]

    line = one_line_failure(run("dev", *args, "--var-dir", str(tmp_path / "v")), 2)

    assert "TASKYARD_API_PORT and TASKYARD_MAIL_PORT (--api-port, --mail-port)" in line
