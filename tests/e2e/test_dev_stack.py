"""`taskyard dev` from nothing: embedded Redis and SQLite, a job over HTTP, Flower, clean Ctrl-C;
its mail catcher, and the dev-mail channel that sends to it."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest
import redis

from tests.support import devstack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

USUAL_MAIL_PORT = 1025


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(lambda pid: os.killpg(pid, signal.SIGINT), id="ctrl-c-to-the-group"),
        pytest.param(lambda pid: os.kill(pid, signal.SIGTERM), id="sigterm-to-taskyard"),
    ],
)
def test_dev_stack_runs_a_job_shows_it_in_flower_and_stops_cleanly(
    project_root: Path, tmp_path: Path, stop: Callable[[int], None]
) -> None:
    var_dir = tmp_path / "var"
    api_port, flower_port = devstack.free_port(), devstack.free_port()
    api = f"http://127.0.0.1:{api_port}"
    flower = f"http://127.0.0.1:{flower_port}"
    ports = ["--api-port", str(api_port), "--flower-port", str(flower_port)]
    args = [*ports, "--var-dir", str(var_dir)]
    with devstack.dev_stack(project_root, var_dir, tmp_path / "dev.log", args) as process:
        # Given the stack is up: the API is ready and Flower hears the workers' events
        def ready() -> bool:
            devstack.assert_running(process)
            response = devstack.get(f"{api}/readyz")
            return response is not None and response.status_code == 200

        wait_for(
            ready, timeout=devstack.START_TIMEOUT_S, interval=0.5, what="GET /readyz to answer 200"
        )
        socket_path = var_dir / "redis" / "redis.sock"
        assert socket_path.is_socket(), "the embedded Redis should serve the var dir's socket"
        assert (var_dir / "taskyard.db").is_file(), "the store should be SQLite in the var dir"
        for secret in ("dev-admin.key", "flower-credentials"):
            assert stat.S_IMODE((var_dir / secret).stat().st_mode) == 0o600
        admin_key = (var_dir / "dev-admin.key").read_text().strip()
        user, _, password = (var_dir / "flower-credentials").read_text().strip().partition(":")
        flower_auth = httpx.BasicAuth(user, password)

        def flower_sees_workers() -> bool:
            devstack.assert_running(process)
            response = devstack.get(f"{flower}/workers", params={"json": 1}, auth=flower_auth)
            return (
                response is not None
                and response.status_code == 200
                and bool(response.json()["data"])
            )

        wait_for(
            flower_sees_workers,
            timeout=devstack.START_TIMEOUT_S,
            interval=0.5,
            what="Flower workers",
        )

        # When a diag.noop job is enqueued over HTTP with the stack's admin key
        headers = {"Authorization": f"Bearer {admin_key}"}
        created = httpx.post(
            f"{api}/v1/jobs", json={"type": "diag.noop", "payload": {}}, headers=headers, timeout=10
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        # Then it succeeds, and Flower lists it
        def job_status() -> str | None:
            devstack.assert_running(process)
            response = httpx.get(f"{api}/v1/jobs/{job_id}", headers=headers, timeout=5)
            status: str = response.json()["status"]
            return status if status in {"succeeded", "failed", "dead"} else None

        assert wait_for(job_status, timeout=30, what=f"job {job_id} to finish") == "succeeded"

        def flower_lists_job() -> bool:
            devstack.assert_running(process)
            response = devstack.get(f"{flower}/api/tasks", auth=flower_auth)
            return (
                response is not None and response.status_code == 200 and job_id in response.json()
            )

        wait_for(flower_lists_job, timeout=30, interval=0.5, what="Flower to list the job")

        # When the operator presses Ctrl-C (SIGINT to the group) or a supervisor sends SIGTERM
        started = devstack.descendants(process.pid)
        assert len(started) >= 6, started
        stop(process.pid)

        # Then it exits 0 in time, and nothing it started is left: group, Procfile processes, Redis
        assert process.wait(devstack.STOP_TIMEOUT_S) == 0
        group_left = [p for p in devstack.processes().values() if p.pgid == process.pid]
        assert group_left == []
        assert devstack.still_alive(started) == set()
        client = redis.Redis(unix_socket_path=str(socket_path))
        with pytest.raises(redis.ConnectionError):
            client.ping()
        client.close()


@contextmanager
def usual_mail_port_taken() -> Iterator[None]:
    """Port 1025 on loopback held by a listener (unless something holds it already)."""
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", USUAL_MAIL_PORT))
            holder.listen()
        except OSError:
            pass  # taken already: as good for the test
        yield


def test_dev_stack_catches_what_the_dev_mail_channel_sends(
    project_root: Path, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"
    log = tmp_path / "dev.log"
    ports = ["--api-port", str(devstack.free_port()), "--flower-port", str(devstack.free_port())]
    with (
        usual_mail_port_taken(),
        devstack.dev_stack(
            project_root, var_dir, log, [*ports, "--var-dir", str(var_dir)]
        ) as process,
    ):
        # Given the stack started while the usual mail port was taken: its catcher took another
        def catcher_port() -> int | None:
            devstack.assert_running(process)
            said = re.search(r"Mail +smtp://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
            return int(said.group(1)) if said else None

        port = wait_for(catcher_port, timeout=devstack.START_TIMEOUT_S, what="the Mail line")
        assert port != USUAL_MAIL_PORT

        def listening() -> bool:
            devstack.assert_running(process)
            return "mail catcher on 127.0.0.1:" in log.read_text(errors="replace")

        wait_for(listening, timeout=devstack.START_TIMEOUT_S, interval=0.2, what="the catcher")

        # When a second terminal beside the stack tests dev-mail and previews welcome
        def beside(*command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(devstack.TASKYARD), *command], cwd=tmp_path, env=devstack.clean_env(),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip

        tested = beside("channels", "test", "dev-mail")
        shown = beside("channels", "show", "dev-mail")
        preview = beside("templates", "preview", "welcome")

        # Then the test message is one .eml file in var/mail, with the channel's headers
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert f"│ port        │ {port}" in shown.stdout, shown.stdout
        assert "Welcome to Taskyard, Ada" in preview.stdout, preview.stdout + preview.stderr
        [name] = wait_for(lambda: os.listdir(var_dir / "mail"), what="a file in var/mail")
        assert name.endswith(".eml")
        kept = message_from_bytes((var_dir / "mail" / name).read_bytes())
        assert kept["Subject"] == "Taskyard test message for channel dev-mail"
        assert kept["From"] == "taskyard@localhost"
        assert kept["To"] == "dev@localhost"
        assert "If you read it, the channel works." in str(kept.get_payload(decode=True))
        # And the catcher logged it in one line, without the body
        [line] = [ln for ln in log.read_text().splitlines() if "mail from taskyard@localhost" in ln]
        assert "to dev@localhost, subject 'Taskyard test message for channel dev-mail'" in line
        assert "If you read it" not in log.read_text()

        # When the README's command sends the welcome template to dev-mail
        sent = beside("notifications", "send", "--template", "welcome", "--channels", "dev-mail",
                      "--data", '{"name": "Grace"}')  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr

        # Then a worker of the stack delivers it, once, as a second .eml in var/mail
        def welcome() -> list[str]:
            names = sorted(os.listdir(var_dir / "mail"))
            return [n for n in names if b"Welcome to Taskyard, Grace" in (var_dir / "mail" / n)
                    .read_bytes()]  # fmt: skip

        [_delivered] = wait_for(welcome, timeout=60, what="the welcome email in var/mail")
        assert len(os.listdir(var_dir / "mail")) == 2
        listed = beside("deliveries", "list", "--channel", "dev-mail")
        assert "sent" in listed.stdout, listed.stdout + listed.stderr

        # When the stack is stopped, then the catcher stops with it
        started = devstack.descendants(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(devstack.STOP_TIMEOUT_S) == 0
        assert devstack.still_alive(started) == set()
