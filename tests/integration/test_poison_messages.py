"""A poison message (an entry that is not a message, or a message that is not Taskyard's) is set
aside, counted and logged, and the worker goes on to run the next job, on every queue."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run
from tests.support.poison import kept, poison_counted, run_noop
from tests.support.processes import celery_worker_command, running
from tests.support.services import RedisServer
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers import poison

#: Entries pushed straight onto a queue's Redis list: not JSON, and JSON that is no envelope.
RAW_POISON = (
    b"this is not json",
    b'{"body": "e30=", "headers": {}}',
    b'{"body": "e30=", "properties": {"delivery_tag": "t"}}',
    b"\xff\xfe binary \x00",
    b"[" * 50_000,  # decoding it raises RecursionError, not a ValueError
)
#: The worker profiles of the Procfile and the queues each consumes.
PROFILES = {"realtime": ("critical", "high"), "default": ("default",), "bulk": ("bulk",)}


class _Actions(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.actions.append(getattr(record, "action", ""))


@contextmanager
def logged_actions() -> Iterator[list[str]]:
    """The ``action`` of every line ``workers.poison`` logs within (the worker's logging setup
    replaces the root logger's handlers, so the handler sits on the module's own logger)."""
    handler = _Actions()
    logger = logging.getLogger(poison.__name__)
    logger.addHandler(handler)
    try:
        yield handler.actions
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def clean_poison(runtime: dict[str, str]) -> Iterator[None]:
    """No poison messages kept before or after the test."""
    poison.purge_poison()
    yield
    poison.purge_poison()


@pytest.mark.parametrize("profile", PROFILES)
def test_each_worker_profile_sets_raw_poison_aside_and_runs_the_next_job(
    profile: str,
    clean_poison: None,
    redis_service: RedisServer,
    redis_db: int,
) -> None:
    broker = redis_service.client(redis_db)
    queues = PROFILES[profile]
    before = {queue: poison_counted(queue) for queue in queues}
    with logged_actions() as actions, embedded_worker(queues):
        for queue in queues:
            # Given entries that are not messages on the queue's list
            for raw in RAW_POISON:
                broker.lpush(queue, raw)

            # When a job is enqueued behind them, then it runs
            run_noop(queue)

    for queue in queues:
        # And every entry was kept, with its bytes, and counted
        entries = kept(queue)
        assert sorted(e.raw for e in entries) == sorted(RAW_POISON)
        assert all(e.queue == queue and e.reason for e in entries)
        assert poison_counted(queue) - before[queue] == len(RAW_POISON)
    # And each was logged once
    assert actions.count("worker.poison_message") == len(RAW_POISON) * len(queues)


def test_the_cli_lists_and_purges_poison_messages(clean_poison: None) -> None:
    # Given two poison messages kept
    poison.set_aside("default", b"not json at all", "not JSON (JSONDecodeError)")
    poison.set_aside("bulk", b'{"x": 1}', "the envelope has no properties")

    # When they are listed, then the table shows both, newest first
    listed = run("poison", "list")
    assert listed.exit_code == 0, listed.output
    assert "not json at all" in listed.stdout
    assert "envelope has no properties" in listed.stdout
    assert listed.stdout.index("bulk") < listed.stdout.index("default")
    as_json = json.loads(run("poison", "list", "--json", "--queue", "bulk").stdout)
    assert [entry["raw"] for entry in as_json] == ['{"x": 1}']
    assert run("dlq", "poison", "list").stdout == listed.stdout, "the deprecated path still reads"

    # When one queue is purged, then only that queue's are gone
    purged = run("poison", "purge", "--queue", "bulk", "--yes")
    assert purged.exit_code == 0, purged.output
    assert "Deleted 1 poison message." in purged.stdout
    assert poison.count_poison() == 1

    # And a purge without --yes and without a terminal changes nothing
    refused = run("poison", "purge")
    assert refused.exit_code == 2
    assert poison.count_poison() == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_worker_process_survives_poison_and_exports_its_count(
    clean_poison: None, redis_service: RedisServer, redis_db: int, tmp_path: Path
) -> None:
    # Given worker-default, started as the Procfile starts it, exporting its metrics
    port = _free_port()
    log_path = tmp_path / "worker.log"
    command = celery_worker_command(["default"], "poison", concurrency=1)
    env = {"TASKYARD_METRICS_PORT": str(port), "TASKYARD_LOG_FORMAT": "json",
           "TASKYARD_LOG_LEVEL": "INFO"}  # fmt: skip
    with running(command, log_path, env=env, unset=["PROMETHEUS_MULTIPROC_DIR"]) as worker:
        run_noop("default")

        # When text that is not JSON lands on its queue
        redis_service.client(redis_db).lpush("default", "this is not json")

        # Then the next job still succeeds, and the process is still running
        run_noop("default")
        assert worker.poll() is None, log_path.read_text()[-2000:]
        text = wait_for(lambda: _scrape(port), timeout=20, what="the worker's exporter")

    assert 'taskyard_poison_messages_total{queue="default"} 1.0' in text
    assert [e.raw for e in kept("default")] == [b"this is not json"]
    actions = [json.loads(line).get("action") for line in log_path.read_text().splitlines()
               if line.startswith("{")]  # fmt: skip
    assert actions.count("worker.poison_message") == 1
    assert "Unrecoverable error" not in log_path.read_text()


def _scrape(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
