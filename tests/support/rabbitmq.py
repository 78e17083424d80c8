"""A scratch RabbitMQ virtual host per test module, made and removed with ``rabbitmqctl``."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.services import port_open

AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672


def rabbitmq_available() -> bool:
    """Whether a local RabbitMQ answers and ``rabbitmqctl`` can manage it."""
    return port_open(AMQP_HOST, AMQP_PORT) and shutil.which("rabbitmqctl") is not None


def require_rabbitmq() -> None:
    """Skip the test when no RabbitMQ is here, except under ``CI=true``, where that fails."""
    if rabbitmq_available():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("RabbitMQ is not reachable in CI")
    pytest.skip("no RabbitMQ with rabbitmqctl on this machine")


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def scratch_vhost() -> Iterator[str]:
    """A new virtual host the ``guest`` user may use; yields its broker URL."""
    vhost = f"taskyard-test-{uuid.uuid4().hex[:10]}"
    _ctl("add_vhost", vhost)
    try:
        _ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}"
    finally:
        _ctl("delete_vhost", vhost)
