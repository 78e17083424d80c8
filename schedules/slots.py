"""Slot maths: when an entry fires next, and what one tick fires after a delay or downtime.

Pure functions over aware UTC datetimes. A *slot* is a planned fire time:

- **cron**: every instant whose wall-clock time in the entry's time zone matches the
  five-field expression. A wall time that a spring-forward skips fires at the first instant
  after the gap; a wall time that a fall-back repeats fires once (at its first occurrence)
  when the expression names fixed times, and at both occurrences when its minute or hour
  field starts with ``*`` (every N minutes): the classic cron rule.
- **interval**: every whole multiple of the interval since the Unix epoch, so every beat
  process computes the same slots (a fire's unique key is its schedule and slot).

A slot fired within the grace period after its time is *late*; an older one is *missed* and
follows the entry's policy: ``skip`` drops it, ``catch_up`` fires one run for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import (  # type: ignore[import-untyped]
    FormatException,
    MissingFieldException,
    WrongArgumentException,
    get_description,
)
from croniter import CroniterBadDateError, CroniterError, croniter

from schedules.errors import InvalidSchedule
from workers.store.models import MissedRunPolicy, ScheduleKind

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CRON_FIELDS = 5
MIN_INTERVAL_S = 1
MAX_INTERVAL_S = 366 * 24 * 3600
#: Expiry of a run whose entry sets none: the gap to the next slot, within these bounds.
MIN_DEFAULT_EXPIRES_S = 1
MAX_DEFAULT_EXPIRES_S = 24 * 3600
_MICROSECOND = timedelta(microseconds=1)
_FIELD_SPANS = (("minute", 60), ("hour", 24), ("day", 31), ("month", 12), ("weekday", 7))


@dataclass(frozen=True)
class Timing:
    """When an entry fires: a cron expression in a time zone, or every ``interval_s`` seconds."""

    cron: str | None = None
    timezone: str = "UTC"
    interval_s: int | None = None

    @property
    def kind(self) -> ScheduleKind:
        """``cron`` or ``interval``."""
        return ScheduleKind.CRON if self.cron is not None else ScheduleKind.INTERVAL

    @property
    def zone(self) -> ZoneInfo:
        """The time zone the cron expression is read in."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class FirePlan:
    """What one tick does for an entry: the slots to fire now (oldest first), the next slot
    after them, and whether slots older than the grace period were found (missed)."""

    slots: tuple[datetime, ...]
    next_run_at: datetime
    missed: bool = False


def _invalid(field: str, message: str) -> InvalidSchedule:
    return InvalidSchedule(f"{field}: {message}", [{"field": field, "message": message}])


def check_zone(name: str) -> str:
    """``name`` when it is an IANA time zone (e.g. ``Europe/Berlin``), else ``InvalidSchedule``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(
            "timezone", f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
        ) from None
    return name


def _check_steps(expression: str, fields: list[str]) -> None:
    """Refuse ``*/90 * * * *``: a step wider than its field fires once per period, not every
    90 minutes (use an interval for that)."""
    for (name, span), value in zip(_FIELD_SPANS, fields, strict=True):
        for part in value.split(","):
            _, slash, step = part.partition("/")
            if slash and step.isascii() and step.isdigit() and int(step) >= span:
                raise _invalid(
                    "cron",
                    f"{expression!r}: step /{step} is not shorter than the {name} field's range "
                    f"({span}); for 'every {step} {name}s' use an interval instead",
                )


def check_cron(expression: str) -> str:
    """The normalised five-field expression, or ``InvalidSchedule`` saying what is wrong."""
    normalised = " ".join(expression.split())
    if len(normalised.split(" ")) != CRON_FIELDS:
        raise _invalid(
            "cron",
            f"{expression!r} is not a cron expression: give five fields "
            "(minute hour day-of-month month day-of-week), e.g. '15 3 * * *'",
        )
    _check_steps(expression, normalised.split(" "))
    try:
        croniter(normalised, EPOCH).get_next(datetime)
    except CroniterBadDateError:
        raise _invalid("cron", f"{expression!r} never fires") from None
    except (CroniterError, ValueError, KeyError) as error:
        raise _invalid("cron", f"{expression!r} is not a valid cron expression ({error})") from None
    return normalised


def check_timing(timing: Timing) -> Timing:
    """``timing`` normalised: exactly one of cron and interval, a known zone, sane bounds."""
    if (timing.cron is None) == (timing.interval_s is None):
        raise _invalid("cron", "give either a cron expression or an interval, not both or neither")
    zone = check_zone(timing.timezone)
    if timing.interval_s is not None:
        if zone != "UTC":
            raise _invalid("timezone", "a time zone applies to cron entries only")
        if not MIN_INTERVAL_S <= timing.interval_s <= MAX_INTERVAL_S:
            raise _invalid(
                "interval_s",
                f"must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S} seconds "
                f"(got {timing.interval_s})",
            )
        return timing
    assert timing.cron is not None
    return Timing(cron=check_cron(timing.cron), timezone=zone)


def _fires_every_few_minutes(expression: str) -> bool:
    minute, hour = expression.split()[:2]
    return minute.startswith("*") or hour.startswith("*")


def _second_occurrence(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether ``moment`` is the later of two instants with the same wall time (fall-back)."""
    local = moment.astimezone(UTC).astimezone(zone)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def _cron_step(timing: Timing, moment: datetime, forward: bool) -> datetime:
    assert timing.cron is not None
    zone = timing.zone
    steps = croniter(timing.cron, moment.astimezone(zone))
    repeat_ok = _fires_every_few_minutes(timing.cron)
    while True:
        found = steps.get_next(datetime) if forward else steps.get_prev(datetime)
        if repeat_ok or not _second_occurrence(found, zone):
            return found.astimezone(UTC)


def _interval_index(timing: Timing, moment: datetime) -> tuple[int, int]:
    assert timing.interval_s is not None
    step = timing.interval_s * 1_000_000
    return (moment - EPOCH) // _MICROSECOND, step


def slot_after(timing: Timing, moment: datetime) -> datetime:
    """The first slot strictly after ``moment``."""
    if timing.cron is not None:
        return _cron_step(timing, moment, forward=True)
    elapsed, step = _interval_index(timing, moment)
    return EPOCH + (elapsed // step + 1) * step * _MICROSECOND


def slot_before(timing: Timing, moment: datetime) -> datetime:
    """The last slot strictly before ``moment``."""
    if timing.cron is not None:
        return _cron_step(timing, moment, forward=False)
    elapsed, step = _interval_index(timing, moment)
    return EPOCH + ((elapsed - 1) // step) * step * _MICROSECOND


def plan_fires(
    timing: Timing,
    policy: MissedRunPolicy,
    next_run_at: datetime | None,
    now: datetime,
    grace: timedelta,
) -> FirePlan:
    """The slots due at ``now`` for an entry whose next unfired slot is ``next_run_at``.

    Slots no older than ``grace`` fire one by one (late, not missed: a slow tick or a leader
    failover loses nothing). Older slots are missed: ``skip`` drops them, ``catch_up`` fires
    one run, for the newest of them. ``next_run_at`` of ``None`` (a new or resumed entry)
    starts at the first slot after ``now``.
    """
    if next_run_at is None:
        return FirePlan((), slot_after(timing, now))
    if next_run_at > now:
        return FirePlan((), next_run_at)
    slots: list[datetime] = []
    start, missed = next_run_at, False
    newest_missed = slot_before(timing, now - grace)
    if newest_missed >= next_run_at:
        missed = True
        if policy is MissedRunPolicy.CATCH_UP:
            slots.append(newest_missed)
        start = slot_after(timing, newest_missed)
    slot = start
    while slot <= now:
        slots.append(slot)
        slot = slot_after(timing, slot)
    return FirePlan(tuple(slots), slot, missed)


def default_expires_s(timing: Timing, slot: datetime) -> int:
    """Seconds a run may wait in its queue when the entry sets none: until the next slot."""
    gap = (slot_after(timing, slot) - slot).total_seconds()
    return int(min(max(gap, MIN_DEFAULT_EXPIRES_S), MAX_DEFAULT_EXPIRES_S))


def _seconds_phrase(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    return "Every second" if seconds == 1 else f"Every {seconds} seconds"


def describe(timing: Timing) -> str:
    """A human description: ``At 03:15 AM`` (cron-descriptor), or ``Every 30 seconds``."""
    if timing.cron is None:
        assert timing.interval_s is not None
        return _seconds_phrase(timing.interval_s)
    try:
        text: str = get_description(timing.cron)
    except (FormatException, MissingFieldException, WrongArgumentException, ValueError):
        return timing.cron  # croniter accepts a few forms the descriptor cannot read
    return text
