"""The static catalog: every entry names a registered task, is routed to a queue some
Procfile worker consumes, sets ``expires``, and validates; plus the Sentry monitor mapping."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from schedules.catalog import STATIC_ENTRIES
from schedules.entries import ScheduleSpec, check_spec
from schedules.errors import InvalidSchedule
from schedules.firing import internal_queue
from schedules.monitors import monitor_config, monitor_slug
from schedules.slots import Timing
from tasks.jobs.catalog import CATALOG
from tasks.maintenance import catalog as maintenance
from workers.app import app
from workers.celery_config import BEAT_SCHEDULER, TASK_MODULES
from workers.errors import SettingsError
from workers.queues import route_task
from workers.settings import load_settings
from workers.store.models import Schedule

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = {entry.name: entry for entry in STATIC_ENTRIES}


def procfile_commands() -> dict[str, list[str]]:
    """``name: command`` lines of the Procfile as argument lists."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and not line.lstrip().startswith("#"):
            commands[name.strip()] = shlex.split(command)
    return commands


def consumed_queues() -> set[str]:
    """Every queue some Procfile worker consumes (its ``-Q``/``--queues`` list)."""
    queues: set[str] = set()
    for args in procfile_commands().values():
        if "worker" not in args:
            continue
        for index, arg in enumerate(args):
            if arg in ("-Q", "--queues"):
                queues.update(args[index + 1].split(","))
            elif arg.startswith("--queues="):
                queues.update(arg.split("=", 1)[1].split(","))
    return queues


def queue_of(entry: ScheduleSpec) -> str:
    """Where a run of ``entry`` is delivered."""
    if entry.task in CATALOG:
        return entry.queue or CATALOG.get(entry.task).queue.value
    record = Schedule(name=entry.name, task=entry.task, queue=entry.queue)
    return internal_queue(record)


def test_the_maintenance_defaults_are_scheduled() -> None:
    assert ENTRIES["maintenance.purge"].timing == Timing(cron="15 3 * * *", timezone="UTC")
    assert ENTRIES["maintenance.vacuum"].timing == Timing(cron="45 3 * * *", timezone="UTC")
    assert ENTRIES["maintenance.backup"].timing == Timing(cron="30 2 * * *", timezone="UTC")
    assert ENTRIES["maintenance.redis_hygiene"].timing == Timing(cron="*/10 * * * *")
    assert ENTRIES["maintenance.canary"].timing == Timing(cron="* * * * *")
    sweep = ENTRIES["maintenance.notify_sweep"]
    assert (sweep.timing, sweep.expires_s) == (Timing(interval_s=10), 9)
    assert len(ENTRIES) == len(STATIC_ENTRIES), "two static entries share a name"


@pytest.mark.parametrize("entry", STATIC_ENTRIES, ids=lambda e: e.name)
def test_every_static_entry_names_a_job_type_or_a_maintenance_task(entry: ScheduleSpec) -> None:
    assert entry.task in CATALOG or (
        entry.task.startswith("maintenance.") and maintenance.find(entry.task) is not None
    ), f"{entry.name}: {entry.task} is neither a job type nor a known maintenance task"


@pytest.mark.parametrize("entry", STATIC_ENTRIES, ids=lambda e: e.name)
def test_every_static_entry_is_routed_to_a_queue_a_procfile_worker_consumes(
    entry: ScheduleSpec,
) -> None:
    queue = queue_of(entry)

    assert queue in consumed_queues(), f"{entry.name} goes to {queue}, which no worker consumes"
    if entry.task not in CATALOG:
        # Name prefix, route and queue agree: the entry's queue is its family's route
        assert route_task(entry.task, (), {}, {}) == {"queue": queue}


@pytest.mark.parametrize("entry", STATIC_ENTRIES, ids=lambda e: e.name)
def test_every_static_entry_sets_expires_and_validates(entry: ScheduleSpec) -> None:
    assert entry.expires_s is not None
    assert entry.expires_s > 0

    assert check_spec(entry) == entry


def test_every_maintenance_task_is_registered_and_scheduled_once() -> None:
    app.loader.import_default_modules()
    tasks = [task.task for task in maintenance.MAINTENANCE]

    missing = sorted(name for name in tasks if name not in app.tasks)
    assert not missing, f"scheduled but not registered: {missing} (TASK_MODULES: {TASK_MODULES})"
    assert sorted(entry.task for entry in STATIC_ENTRIES) == sorted(tasks)


@pytest.mark.parametrize(
    ("task", "args", "field"),
    [
        ("maintenance.backup", {"path": "/etc"}, "payload.path"),
        ("maintenance.backup", {"keep": "3"}, "payload.keep"),
        ("maintenance.backup", {"keep": 0}, "payload.keep"),
        ("maintenance.purge", {"batch_size": 1.5}, "payload.batch_size"),
        ("maintenance.redis_hygiene", {"scan_count": True}, "payload.scan_count"),
        ("maintenance.vacuum", {"full": True}, "payload.full"),
    ],
)
def test_a_maintenance_schedule_is_refused_arguments_its_task_does_not_take(
    task: str, args: dict[str, object], field: str
) -> None:
    spec = ScheduleSpec("entry", task, Timing(interval_s=60), args=args)

    with pytest.raises(InvalidSchedule) as refused:
        check_spec(spec)

    assert refused.value.message.startswith(f"invalid arguments for {task}: {field}: ")
    assert [item["field"] for item in refused.value.details] == [field]


def test_a_maintenance_schedule_keeps_the_arguments_sent() -> None:
    spec = ScheduleSpec("entry", "maintenance.backup", Timing(interval_s=60), args={"keep": 3})

    assert check_spec(spec).args == {"keep": 3}
    assert check_spec(ScheduleSpec("e", "maintenance.purge", Timing(interval_s=60))).args == {}
    # null leaves the task's own default, so the run is not handed a None
    hygiene = ScheduleSpec("h", "maintenance.redis_hygiene", Timing(interval_s=60))
    assert check_spec(replace(hygiene, args={"scan_count": None})).args == {}


def test_beat_uses_the_store_backed_scheduler_everywhere() -> None:
    beat = procfile_commands()["beat"]

    assert app.conf.beat_scheduler == BEAT_SCHEDULER == "schedules.scheduler:TaskyardScheduler"
    assert beat[beat.index("-S") + 1] == BEAT_SCHEDULER
    assert app.conf.beat_max_loop_interval <= 1


def test_a_cron_entry_becomes_a_sentry_monitor_with_its_time_zone() -> None:
    record = Schedule(name="Nightly Report!", cron="30 2 * * *", timezone="Europe/Berlin")

    assert monitor_slug(record.name) == "nightly-report"
    assert monitor_slug("x" * 80) == "x" * 50
    assert monitor_config(record) == {
        "schedule": {"type": "crontab", "value": "30 2 * * *"},
        "timezone": "Europe/Berlin",
        "checkin_margin": 2,
    }


def test_beat_settings_keep_a_failover_late_rather_than_missed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKYARD_BEAT_LOCK_TTL_S", "10")
    monkeypatch.setenv("TASKYARD_BEAT_GRACE_S", "5")
    with pytest.raises(SettingsError, match="TASKYARD_BEAT_GRACE_S must exceed"):
        load_settings()

    monkeypatch.setenv("TASKYARD_BEAT_LOCK_TTL_S", "1")
    with pytest.raises(SettingsError, match="TASKYARD_BEAT_LOCK_TTL_S"):
        load_settings()

    monkeypatch.setenv("TASKYARD_BEAT_LOCK_TTL_S", "3")
    monkeypatch.setenv("TASKYARD_BEAT_STATIC_ENTRIES", "false")
    settings = load_settings()
    assert (settings.beat_lock_ttl_s, settings.beat_grace_s) == (3, 5)
    assert settings.beat_static_entries is False
