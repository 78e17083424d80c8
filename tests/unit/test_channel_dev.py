"""`taskyard dev` lets channels reach loopback receivers (a local sink or mail catcher)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from cli.devstack import DEV_OUTBOUND_ALLOW
from tests.support.cli import one_line_failure, run
from workers.settings import get_settings, split_allow_list


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dev_opens_loopback_for_channels(
    monkeypatch: pytest.MonkeyPatch, project_root: Path, tmp_path: Path
) -> None:
    monkeypatch.chdir(project_root)
    monkeypatch.setenv("TASKYARD_OUTBOUND_ALLOW", "")  # recorded, so the test leaves none behind
    monkeypatch.delenv("TASKYARD_OUTBOUND_ALLOW")
    for name, value in {
        "TASKYARD_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",  # down: dev stops early
        "TASKYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "TASKYARD_VAR_DIR": str(tmp_path / "var"),
        "TASKYARD_LOG_FORMAT": "text",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        one_line_failure(run("dev", "--api-port", str(free_port()), "--flower-port",
                             str(free_port())), 1)  # fmt: skip
        assert os.environ["TASKYARD_OUTBOUND_ALLOW"] == DEV_OUTBOUND_ALLOW
        assert get_settings().outbound_allow == DEV_OUTBOUND_ALLOW
    finally:
        get_settings.cache_clear()
    networks, hosts = split_allow_list(DEV_OUTBOUND_ALLOW)
    assert [str(n) for n in networks] == ["127.0.0.0/8", "::1/128"]
    assert hosts == ["localhost"]
