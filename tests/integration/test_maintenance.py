"""Maintenance tasks on a real store (SQLite, then PostgreSQL) and Redis: purge, vacuum, Redis
hygiene, reaper, canary, run locks and records, the Celery tasks and the CLI."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from prometheus_client import REGISTRY
from sqlalchemy import select

from cli.main import cli
from tasks.maintenance.backup import backup_task
from tasks.maintenance.canary import canary, correlation_id
from tasks.maintenance.purge import purge
from tasks.maintenance.redis_hygiene import redis_hygiene
from tasks.maintenance.runs import (
    ABANDONED,
    MaintenanceFailed,
    RunOutcome,
    lock_key,
    recent_runs,
    run_maintenance,
)
from tasks.maintenance.vacuum import vacuum
from tests.support.jobs import wait_finished
from tests.support.services import RedisServer
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers.app import app
from workers.locks import LockHeld, held_lock, holder_of
from workers.queues import QUEUE_ORDER
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store.engine import session_scope
from workers.store.models import (
    Delivery,
    IdempotencyKey,
    Job,
    MaintenanceRun,
    Notification,
    Schedule,
    ScheduleFire,
    UniqueJob,
)
from workers.store.types import utcnow

DAY = timedelta(days=1)
RETENTION_DAYS = {"succeeded": 7, "failed": 30, "dead": 30, "cancelled": 7}


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """Set one ``TASKYARD_*`` variable for this test (settings are re-read)."""

    def apply(name: str, value: str) -> None:
        monkeypatch.setenv(f"TASKYARD_{name}", value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


def job(status: str, *, created: datetime, finished: datetime | None = None, **extra: Any) -> Job:
    """A job record as the store would hold it."""
    return Job(id=uuid.uuid4(), type="diag.noop", queue="default", priority=5, status=status,
               payload={}, attempts=1, created_at=created, finished_at=finished,
               max_attempts=1, timed_out=False, **extra)  # fmt: skip


def add(*rows: Any) -> None:
    with session_scope() as session:
        session.add_all(rows)


def surviving(model: Any, ids: list[Any]) -> set[Any]:
    with session_scope() as session:
        return set(session.scalars(select(model.id).where(model.id.in_(ids))))


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_purge_deletes_exactly_what_is_past_retention_in_batches(
    runtime: dict[str, str], setting: Callable[[str, str], None]
) -> None:
    # Given, for each finished status, records just past and just inside its retention
    now = utcnow()
    expired, kept = [], []
    for status, days in RETENTION_DAYS.items():
        old = now - (days + 1) * DAY
        expired += [job(status, created=old - DAY, finished=old) for _ in range(3)]
        kept.append(job(status, created=old, finished=now - (days - 1) * DAY))
    # and open jobs created long ago, which no retention touches
    kept += [job(s, created=now - 400 * DAY) for s in ("queued", "started", "retrying")]
    add(*expired, *kept)
    schedule = Schedule(name=f"s-{uuid.uuid4().hex[:6]}", task="maintenance.canary",
                        kind="interval", interval_s=30)  # fmt: skip
    add(schedule)
    fires = [ScheduleFire(schedule_id=schedule.id, planned_at=t, fired_at=t)
             for t in (now - 31 * DAY, now - 29 * DAY)]  # fmt: skip
    runs = [MaintenanceRun(name="vacuum", started_at=t, finished_at=t, outcome="succeeded",
                           figures={}) for t in (now - 31 * DAY, now - 29 * DAY)]  # fmt: skip
    add(*fires, *runs)
    holder = kept[-3].id
    for key, expires in (("gone", now - DAY), ("live", now + DAY)):
        add(
            IdempotencyKey(scope="t", key=key, job_id=holder, request_hash="h", expires_at=expires),
            UniqueJob(type="diag.noop", unique_key=key, job_id=holder, expires_at=expires),
        )

    # When purge runs with batches of two
    setting("PURGE_BATCH_SIZE", "2")
    result = purge()

    # Then exactly the expired rows are gone, in several batches
    assert result.outcome is RunOutcome.SUCCEEDED, result.error
    assert surviving(Job, [j.id for j in expired + kept]) == {j.id for j in kept}
    assert surviving(ScheduleFire, [f.id for f in fires]) == {fires[1].id}
    assert surviving(MaintenanceRun, [r.id for r in runs]) == {runs[1].id}
    with session_scope() as session:
        assert set(session.scalars(select(IdempotencyKey.key).where(IdempotencyKey.scope == "t")))\
            == {"live"}  # fmt: skip
        assert set(session.scalars(select(UniqueJob.unique_key))) == {"live"}
    figures = result.figures
    assert [figures[f"jobs_{s}"] for s in RETENTION_DAYS] == [3, 3, 3, 3]
    assert (figures["schedule_fires"], figures["maintenance_runs"]) == (1, 1)
    assert (figures["idempotency_keys"], figures["unique_jobs"]) == (1, 1)
    assert figures["rows_deleted"] == 16
    assert figures["batches"] >= 2 * 4 + 4

    # And a second run finds nothing left to do
    assert purge().figures["rows_deleted"] == 0


def _notification(created: datetime) -> Notification:
    return Notification(id=uuid.uuid4(), subject="s", text="t", data={}, queue="default",
                        priority=5, idempotency_scope="internal", request_hash="h",
                        source="api", created_at=created)  # fmt: skip


def _delivery(notification: Notification, status: str, finished: datetime | None) -> Delivery:
    delivery_id = uuid.uuid4()
    return Delivery(id=delivery_id, notification_id=notification.id, channel_name="hook",
                    status=status, job_id=uuid.uuid4(), queue="default", priority=5,
                    attempts=1, max_attempts=5, message_key=delivery_id.hex,
                    created_at=notification.created_at, finished_at=finished,
                    maybe_delivered=False)  # fmt: skip


def test_purge_deletes_finished_deliveries_past_retention_and_their_notifications(
    runtime: dict[str, str], setting: Callable[[str, str], None]
) -> None:
    # Given deliveries finished just past TASKYARD_RETENTION_DELIVERIES_DAYS (30), one just
    # inside it, and an old one still waiting to be sent
    now = utcnow()
    old, recent = now - 31 * DAY, now - 29 * DAY
    gone = [_notification(old - DAY) for _ in range(3)]
    kept = [_notification(old - DAY), _notification(old - DAY)]
    add(*gone, *kept)
    expired = [_delivery(n, status, old) for n, status in zip(gone, ("sent", "failed", "dead"),
                                                              strict=True)]  # fmt: skip
    alive = [_delivery(kept[0], "sent", recent), _delivery(kept[1], "queued", None)]
    add(*expired, *alive)

    # When purge runs with batches of two
    setting("PURGE_BATCH_SIZE", "2")
    result = purge()

    # Then the expired deliveries and the notifications left without any are gone
    assert result.outcome is RunOutcome.SUCCEEDED, result.error
    assert surviving(Delivery, [d.id for d in expired + alive]) == {d.id for d in alive}
    assert surviving(Notification, [n.id for n in gone + kept]) == {n.id for n in kept}
    assert result.figures["deliveries"] == 3
    assert purge().figures["deliveries"] == 0


def test_a_run_while_another_holds_the_lock_is_skipped_and_recorded(
    runtime: dict[str, str],
) -> None:
    counted = {outcome: _runs_counted("purge", outcome) for outcome in ("skipped", "succeeded")}
    with held_lock(shared_redis(get_settings().locks_url), lock_key("purge"), 30) as held:
        skipped = purge()

    assert skipped.outcome is RunOutcome.SKIPPED
    assert held.token in skipped.figures["reason"]
    assert recent_runs("purge", 1)[0].id == skipped.id
    assert purge().outcome is RunOutcome.SUCCEEDED
    assert _runs_counted("purge", "skipped") == counted["skipped"] + 1
    assert _runs_counted("purge", "succeeded") == counted["succeeded"] + 1


def _runs_counted(task: str, outcome: str) -> float:
    """``taskyard_maintenance_runs_total{task, outcome}`` as this process recorded it."""
    labels = {"task": task, "outcome": outcome}
    return REGISTRY.get_sample_value("taskyard_maintenance_runs_total", labels) or 0.0


def test_a_held_lock_outlives_its_ttl_and_only_its_holder_releases_it(
    runtime: dict[str, str],
) -> None:
    client, key = shared_redis(get_settings().locks_url), lock_key("test-renewal")
    with held_lock(client, key, ttl_s=0.3) as held:
        # While the block runs, renewals keep the lock well past its TTL
        deadline = time.monotonic() + 0.9
        wait_for(lambda: time.monotonic() > deadline, what="three TTLs to pass")
        assert holder_of(client, key) == held.token
        assert not held.lost
        # and another run cannot take it meanwhile
        with pytest.raises(LockHeld) as refused, held_lock(client, key, ttl_s=30):
            pass
        assert refused.value.holder == held.token
    assert holder_of(client, key) is None


def test_a_lock_lost_midway_is_noticed_and_left_to_its_new_holder(
    runtime: dict[str, str],
) -> None:
    client, key = shared_redis(get_settings().locks_url), lock_key("test-lost")

    def taken_over(figures: dict[str, Any]) -> None:
        # As if the lock expired during a long pause and another run took it
        client.set(key, "intruder:1:x", px=5_000)
        deadline = time.monotonic() + 0.6
        wait_for(lambda: time.monotonic() > deadline, what="two renewals to be due")

    result = run_maintenance("test-lost", taken_over, lock_ttl_s=0.3)

    assert result.outcome is RunOutcome.SUCCEEDED
    assert result.figures["lock_lost"] is True
    assert holder_of(client, key) == "intruder:1:x"  # the late release left it alone
    client.delete(key)


def test_vacuum_runs_and_reports_the_store_size(runtime: dict[str, str]) -> None:
    result = vacuum()

    assert result.outcome is RunOutcome.SUCCEEDED, result.error
    assert result.figures["bytes_after"] > 0


def test_a_run_left_running_by_a_dead_process_is_marked_failed(runtime: dict[str, str]) -> None:
    orphan = MaintenanceRun(name="vacuum", started_at=utcnow() - DAY, outcome="running", figures={})
    add(orphan)

    vacuum()

    with session_scope() as session:
        record = session.get(MaintenanceRun, orphan.id)
    assert record is not None
    assert (record.outcome, record.error) == ("failed", ABANDONED)


ORPHANS = {
    "taskyard:concurrency:diag.limited:gone",  # every holder expired
    "taskyard:rate:LIMITER/diag.limited/20/1/second",  # no TTL
    "taskyard:lock:orphan",  # no TTL
    "taskyard:beat:leader",  # no TTL
    "taskyard:rate:LIMITER/channel/ops-mail/20/1/second",  # no TTL
    "taskyard:breaker:https://hooks.example:443",  # no TTL
}
LIVE = {
    "taskyard:concurrency:diag.limited:live",
    "taskyard:rate:LIMITER/diag.other/1/1/second",
    "taskyard:lock:live",
    "taskyard:breaker:smtp.example:587",
    "someone-else:key",  # not Taskyard's, TTL or not
}


def test_redis_hygiene_removes_orphans_and_leaves_live_keys(
    runtime: dict[str, str], redis_service: RedisServer, redis_db: int
) -> None:
    # Given orphaned and live keys of each family
    client = redis_service.client(redis_db)
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000
    client.zadd("taskyard:concurrency:diag.limited:gone", {"w1": now_ms - 5_000})
    client.zadd(
        "taskyard:concurrency:diag.limited:live", {"w1": now_ms - 5_000, "w2": now_ms + 60_000}
    )
    client.zadd("taskyard:rate:LIMITER/diag.limited/20/1/second", {"x": now_ms})
    client.set("taskyard:rate:LIMITER/diag.other/1/1/second", "1", px=60_000)
    client.zadd("taskyard:rate:LIMITER/channel/ops-mail/20/1/second", {"x": now_ms})
    client.hset("taskyard:breaker:https://hooks.example:443", "state", "open")
    client.hset("taskyard:breaker:smtp.example:587", "failures", "2")
    client.pexpire("taskyard:breaker:smtp.example:587", 60_000)
    client.set("taskyard:lock:orphan", "x")
    client.set("taskyard:beat:leader", "host:1:token")
    client.set("taskyard:lock:live", "x", px=60_000)
    client.set("someone-else:key", "x")

    # When hygiene runs, scanning a couple of keys at a time
    result = redis_hygiene(scan_count=2)

    # Then only the orphans are gone, and memory and key counts are reported
    assert result.outcome is RunOutcome.SUCCEEDED, result.error
    remaining = {k.decode() for k in client.scan_iter(count=100)}
    assert ORPHANS.isdisjoint(remaining)
    assert LIVE.issubset(remaining)
    figures = result.figures
    removed = (
        figures["removed_locks"],
        figures["removed_semaphores"],
        figures["removed_rate_keys"],
        figures["removed_breakers"],
    )
    assert removed == (2, 1, 2, 1)
    assert figures["used_memory"] > 0
    assert figures["keys"] == len(remaining) + 1  # and its own lock, held while it counts


def _canaries(run: dict[str, Any]) -> list[uuid.UUID]:
    return [uuid.UUID(run[f"{q.value}_job"]) for q in QUEUE_ORDER]


def test_canary_sends_one_job_per_queue_and_the_next_run_measures_them(
    runtime: dict[str, str],
) -> None:
    # Given a canary run with no worker consuming: four marked jobs, one per queue
    first = canary()
    assert first.outcome is RunOutcome.SUCCEEDED, first.error
    assert first.figures["enqueued"] == 4
    with session_scope() as session:
        sent = list(session.scalars(select(Job).where(Job.id.in_(_canaries(first.figures)))))
    assert sorted((j.queue, j.correlation_id, j.priority) for j in sent) == sorted(
        (q.value, correlation_id(q.value), 9) for q in QUEUE_ORDER
    )

    # When a worker drains them and the canary runs again
    with embedded_worker():
        for job_id in _canaries(first.figures):
            wait_finished(job_id)
        second = canary()
        for job_id in _canaries(second.figures):
            wait_finished(job_id)

    # Then it recorded each queue's end-to-end latency without waiting for its own jobs
    assert second.outcome is RunOutcome.SUCCEEDED, second.error
    for queue in QUEUE_ORDER:
        assert second.figures[f"{queue.value}_latency_ms"] > 0
    assert second.figures["max_latency_ms"] > 0
    assert second.duration_s is not None
    assert second.duration_s < 5


def test_celery_runs_the_task_by_name_on_a_worker(runtime: dict[str, str]) -> None:
    before = utcnow()
    with embedded_worker(queues=("default",)):
        app.send_task("maintenance.redis_hygiene", kwargs={})

        def recorded() -> bool:
            return any(r.started_at >= before and r.outcome == "succeeded"
                       for r in recent_runs("redis_hygiene", 5))  # fmt: skip

        wait_for(recorded, timeout=20, what="a redis_hygiene run recorded by the worker")


def test_a_failed_run_is_recorded_and_the_task_raises(
    runtime: dict[str, str], setting: Callable[[str, str], None], tmp_path: Any
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    setting("BACKUP_DIR", str(blocker / "backups"))

    with pytest.raises(MaintenanceFailed, match=r"maintenance\.backup failed"):
        backup_task()

    latest = recent_runs("backup", 1)[0]
    assert latest.outcome is RunOutcome.FAILED
    assert "NotADirectoryError" in (latest.error or "")


def test_cli_runs_purge_and_lists_runs(runtime: dict[str, str]) -> None:
    ran = run_cli("maintenance", "run", "purge")
    assert ran.exit_code == 0, ran.output
    assert "maintenance purge succeeded in" in ran.stdout
    assert "rows_deleted" in ran.stdout

    as_json = json.loads(run_cli("maintenance", "run", "purge", "--json").stdout)
    assert (as_json["name"], as_json["outcome"]) == ("purge", "succeeded")

    listed = run_cli("maintenance", "runs", "--name", "purge", "--limit", "2")
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.stdout.splitlines() if " purge " in line]
    assert len(rows) == 2
    assert all("succeeded" in row and "batches=0" in row for row in rows)
    # The table cuts long figures short; the JSON lines carry them all
    as_lines = run_cli("maintenance", "runs", "--name", "purge", "--limit", "2", "--json")
    deleted = [json.loads(line)["figures"]["rows_deleted"] for line in as_lines.stdout.splitlines()]
    assert deleted == [0, 0]


def test_cli_failures_are_one_line_with_what_to_do(
    runtime: dict[str, str], setting: Callable[[str, str], None], tmp_path: Any
) -> None:
    unknown = run_cli("maintenance", "run", "defrag")
    assert unknown.exit_code == 2
    assert "'purge', 'vacuum', 'backup', 'redis_hygiene', 'canary'" in unknown.stderr

    with held_lock(shared_redis(get_settings().locks_url), lock_key("vacuum"), 30):
        skipped = run_cli("maintenance", "run", "vacuum")
    assert skipped.exit_code == 75
    assert skipped.stderr.startswith("taskyard: maintenance vacuum was skipped: another vacuum")

    (tmp_path / "file").write_text("x")
    setting("BACKUP_DIR", str(tmp_path / "file" / "backups"))
    failed = run_cli("maintenance", "run", "backup")
    assert failed.exit_code == 1
    [line] = failed.stderr.splitlines()
    assert line.startswith("taskyard: maintenance backup failed: ")
    assert "then run `taskyard maintenance run backup` again" in line
