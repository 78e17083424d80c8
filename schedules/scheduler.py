"""``TaskyardScheduler``: celery beat driven by the store, under a Redis leader lock.

``celery -A workers.app beat -S schedules.scheduler:TaskyardScheduler`` (also the app's
``beat_scheduler``). Every tick (at least once a second) it renews or takes the leader lock;
a standby fires nothing. The leader reloads the entries from the store, so an edit through
the API or CLI applies on the next tick, and fires each due slot: claim it under the unique
(schedule, slot) key first, then enqueue. Celery's own ``beat_schedule`` is not used: static
entries live in :mod:`schedules.catalog`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from celery.beat import Scheduler
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from schedules import store
from schedules.catalog import STATIC_ENTRIES
from schedules.firing import FireOutcome, fire
from schedules.leader import LeaderLock, beat_identity
from schedules.slots import plan_fires
from workers.celery_config import BEAT_TICK_S
from workers.errors import TaskyardError
from workers.observability import metrics
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store.models import MissedRunPolicy, Schedule
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: Failures a tick survives (logged; the next tick tries again).
TICK_ERRORS = (TaskyardError, SQLAlchemyError, RedisError, OSError)


class TaskyardScheduler(Scheduler):  # type: ignore[misc]
    """A leader-locked beat whose entries live in the store (static ones synced from code)."""

    max_interval: float

    def __init__(self, app: Celery, *args: Any, **kwargs: Any) -> None:
        settings = get_settings()
        self.beat = beat_identity()
        self.grace = timedelta(seconds=settings.beat_grace_s)
        self.include_static = settings.beat_static_entries
        self.lock = LeaderLock(
            shared_redis(settings.locks_url), settings.beat_lock_ttl_s, self.beat
        )
        self._synced = False
        self._standby_logged = False
        super().__init__(app, *args, **kwargs)
        self.max_interval = min(self.max_interval, BEAT_TICK_S)

    def setup_schedule(self) -> None:
        """Nothing to load up front: entries are read from the store on every tick."""
        if self.app.conf.beat_schedule:
            log.warning(
                "beat_schedule is ignored; add entries to schedules/catalog.py",
                extra={"action": "beat.beat_schedule_ignored"},
            )

    @property
    def info(self) -> str:
        """The banner line ``celery beat`` prints."""
        return f"    . leader lock -> {self.lock.key} (ttl {self.lock.ttl_s:g}s)"

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One pass: lead or stand by; as leader fire what is due. Returns seconds to sleep."""
        if not self._lead():
            return self.max_interval
        if self.include_static and not self._synced:
            self._sync_static()
        try:
            entries = store.active_schedules(include_static=self.include_static)
            upcoming = [self._run_guarded(entry) for entry in entries]
        except TICK_ERRORS as error:
            log.warning(
                "beat tick failed, trying again: %s", error, extra={"action": "beat.tick_failed"}
            )
            return self.max_interval
        return self._sleep_for([moment for moment in upcoming if moment is not None])

    def _lead(self) -> bool:
        was_leader = self.lock.held
        leads = self.lock.hold()
        if leads and not was_leader:
            log.info(
                "this beat leads (%s)",
                self.beat,
                extra={"action": "beat.leader", "beat": self.beat},
            )
            self._standby_logged = False
            self._synced = False
        elif not leads and not self._standby_logged:
            log.info(
                "another beat leads; standing by (%s)",
                self.beat,
                extra={"action": "beat.standby", "beat": self.beat},
            )
            self._standby_logged = True
        return leads

    def _sync_static(self) -> None:
        """Bring the static catalog into the store; on failure, try again next tick (the
        entries already stored keep firing meanwhile)."""
        try:
            report = store.sync_static(STATIC_ENTRIES)
        except TICK_ERRORS as error:
            log.warning(
                "could not sync the static schedules, trying again: %s",
                error,
                extra={"action": "beat.static_sync_failed"},
            )
            return
        self._synced = True
        log.info(
            "static schedules synced: %d created, %d updated, %d removed",
            report.created,
            report.updated,
            report.removed,
            extra={"action": "beat.static_synced"},
        )

    def _run_guarded(self, entry: Schedule) -> datetime | None:
        try:
            return self._run_entry(entry)
        except (ValueError, KeyError, TypeError) as error:  # a stored row beat cannot use
            metrics.BAD_RECORDS.labels("beat").inc()
            log.error(
                "schedule %s cannot be planned: %r",
                entry.name,
                error,
                extra={"action": "beat.entry_invalid", "schedule": entry.name},
            )
            return None

    def _run_entry(self, entry: Schedule) -> datetime | None:
        """Fire ``entry``'s due slots; its next slot, or ``None`` while a slot awaits a retry."""
        store.spec_of(entry)  # a stored row that is no valid entry raises here, before any fire
        now = utcnow()
        policy = MissedRunPolicy(entry.missed)
        plan = plan_fires(store.timing_of(entry), policy, entry.next_run_at, now, self.grace)
        if plan.missed:
            log.warning(
                "%s missed slots since %s (policy %s)",
                entry.name,
                entry.next_run_at,
                policy.value,
                extra={"action": "beat.missed", "schedule": entry.name},
            )
        next_run_at, last_run_at = plan.next_run_at, None
        for slot in plan.slots:
            if not self.lock.still_valid() and not self.lock.hold():
                return None  # leadership lost mid-tick: the next leader fires the rest
            outcome = fire(self.app, entry, slot, self.beat)
            metrics.SCHEDULE_FIRES.labels(entry.name, outcome.value).inc()
            if outcome is FireOutcome.RETRY:
                store.advance(entry, slot, last_run_at)
                return None
            if outcome is FireOutcome.FIRED:
                last_run_at = utcnow()
        if next_run_at != entry.next_run_at or last_run_at is not None:
            store.advance(entry, next_run_at, last_run_at)
        return next_run_at

    def _sleep_for(self, upcoming: list[datetime]) -> float:
        """Seconds until the earliest next slot, at most one tick."""
        if not upcoming:
            return self.max_interval
        delay = (min(upcoming) - utcnow()).total_seconds()
        return min(max(delay, 0.01), self.max_interval)

    def sync(self) -> None:
        """Nothing to persist: run times are written to the store as slots fire."""

    def close(self) -> None:
        """Release the leader lock, so a standby takes over at once, then close publishing."""
        self.lock.release()
        super().close()
