"""`taskyard dev` ships the self-monitoring alert rules: they show in `GET /v1/alerts`, and a
worker profile that stops answering raises an alert whose FIRING reaches the dev mail catcher
(and its RESOLVED once it answers again)."""

from __future__ import annotations

import os
import signal
from email import message_from_bytes
from pathlib import Path

import pytest

from tests.support import devstack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
#: The rule's interval and for_s (30 s each), plus a tick and a worker's start.
ALERT_TIMEOUT_S = 150


def _subjects(mail: Path) -> list[str]:
    if not mail.is_dir():
        return []
    return sorted(str(message_from_bytes((mail / n).read_bytes())["Subject"])
                  for n in os.listdir(mail))  # fmt: skip


def _bulk_worker(root: int) -> int | None:
    """The process group of the stack's bulk worker (its main process and pool)."""
    for proc in devstack.descendants(root):
        line = devstack.command_line(proc.pid)
        if b"worker" in b" ".join(line) and any(b"bulk@" in arg for arg in line):
            return proc.pgid
    return None


def test_a_stopped_worker_profile_raises_an_alert_that_reaches_the_mail_catcher(
    project_root: Path, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"
    ports = ["--api-port", str(api := devstack.free_port()),
             "--flower-port", str(devstack.free_port()), "--var-dir", str(var_dir)]  # fmt: skip
    with devstack.dev_stack(project_root, var_dir, tmp_path / "dev.log", ports) as process:
        # Given the stack up, its shipped rules evaluated: one alert per worker profile
        key = wait_for(lambda: (var_dir / "dev-admin.key").is_file(), what="the admin key")
        assert key
        headers = {"Authorization": f"Bearer {(var_dir / 'dev-admin.key').read_text().strip()}"}
        url = f"http://127.0.0.1:{api}/v1/alerts?rule=taskyard-workers-down"

        def profiles() -> dict[str, str] | None:
            devstack.assert_running(process)
            answer = devstack.get(url, headers=headers)
            if answer is None or answer.status_code != 200:
                return None
            found = {a["labels"]["profile"]: a["state"] for a in answer.json()["items"]}
            return found if len(found) == 3 and set(found.values()) == {"inactive"} else None

        assert wait_for(profiles, timeout=ALERT_TIMEOUT_S, interval=1, what="3 inactive alerts")
        rules = devstack.get(f"http://127.0.0.1:{api}/v1/alert-rules?limit=50", headers=headers)
        assert rules is not None
        shipped = {r["name"] for r in rules.json()["items"] if r["name"].startswith("taskyard-")}
        assert len(shipped) == 7
        # When the bulk worker stops answering (stopped, so the supervisor does not restart it)
        bulk = wait_for(lambda: _bulk_worker(process.pid), what="the bulk worker")
        os.killpg(bulk, signal.SIGSTOP)
        try:
            # Then its FIRING reaches the mail catcher, once
            mail = var_dir / "mail"
            wait_for(lambda: "[FIRING] no bulk worker answers" in _subjects(mail),
                     timeout=ALERT_TIMEOUT_S, interval=1, what="the FIRING email")  # fmt: skip
        finally:
            os.killpg(bulk, signal.SIGCONT)
        # And once it answers again, its RESOLVED
        wait_for(lambda: any(s.startswith("[RESOLVED]") for s in _subjects(mail)),
                 timeout=ALERT_TIMEOUT_S, interval=1, what="the RESOLVED email")  # fmt: skip
        assert _subjects(mail) == ["[FIRING] no bulk worker answers",
                                   "[RESOLVED] no bulk worker answers"]  # fmt: skip
