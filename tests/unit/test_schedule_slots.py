"""Slot maths: cron in a time zone across DST, interval slots, and the missed-run policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from schedules.errors import InvalidSchedule
from schedules.slots import (
    FirePlan,
    Timing,
    check_timing,
    default_expires_s,
    describe,
    plan_fires,
    slot_after,
    slot_before,
)
from workers.store.models import MissedRunPolicy

BERLIN = ZoneInfo("Europe/Berlin")
GRACE = timedelta(seconds=60)
SKIP, CATCH_UP = MissedRunPolicy.SKIP, MissedRunPolicy.CATCH_UP


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def slots_after(timing: Timing, start: datetime, count: int) -> list[datetime]:
    found, moment = [], start
    for _ in range(count):
        moment = slot_after(timing, moment)
        found.append(moment)
    return found


def local(moments: list[datetime]) -> list[str]:
    return [m.astimezone(BERLIN).strftime("%m-%d %H:%M%z") for m in moments]


def test_daily_cron_in_utc_fires_at_its_wall_time() -> None:
    purge = Timing(cron="15 3 * * *")

    assert slots_after(purge, utc(2026, 5, 1, 12), 2) == [
        utc(2026, 5, 2, 3, 15),
        utc(2026, 5, 3, 3, 15),
    ]
    assert slot_before(purge, utc(2026, 5, 2, 3, 15)) == utc(2026, 5, 1, 3, 15)


def test_a_wall_time_skipped_by_spring_forward_fires_right_after_the_gap() -> None:
    # Given 02:30 daily in Berlin; on 2026-03-29 clocks jump from 02:00 to 03:00
    nightly = Timing(cron="30 2 * * *", timezone="Europe/Berlin")

    # Then that day it fires once, at 03:00 local, and the offset changes the UTC time after it
    found = slots_after(nightly, utc(2026, 3, 27, 12), 3)
    assert local(found) == ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]
    assert found == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    assert slot_before(nightly, found[2]) == found[1]


def test_a_fixed_wall_time_repeated_by_fall_back_fires_once() -> None:
    # Given 02:30 daily in Berlin; on 2026-10-25 02:00-03:00 happens twice
    nightly = Timing(cron="30 2 * * *", timezone="Europe/Berlin")

    # Then it fires at the first 02:30 only, forwards and backwards alike
    found = slots_after(nightly, utc(2026, 10, 24, 12), 3)
    assert local(found) == ["10-25 02:30+0200", "10-26 02:30+0100", "10-27 02:30+0100"]
    assert slot_before(nightly, found[1]) == found[0]


def test_an_every_few_minutes_cron_keeps_firing_through_the_repeated_hour() -> None:
    # Given every 30 minutes in Berlin across the fall-back
    half_hourly = Timing(cron="*/30 * * * *", timezone="Europe/Berlin")

    # Then it fires every 30 real minutes, in both 02:xx hours
    found = slots_after(half_hourly, utc(2026, 10, 24, 23, 45), 6)
    assert [b - a for a, b in pairwise(found)] == [timedelta(minutes=30)] * 5
    assert local(found) == [
        "10-25 02:00+0200", "10-25 02:30+0200", "10-25 02:00+0100",
        "10-25 02:30+0100", "10-25 03:00+0100", "10-25 03:30+0100",
    ]  # fmt: skip


def test_interval_slots_are_multiples_of_the_interval_since_the_epoch() -> None:
    reaper = Timing(interval_s=30)

    assert slot_after(reaper, utc(2026, 1, 1, 0, 0, 15)) == utc(2026, 1, 1, 0, 0, 30)
    assert slot_after(reaper, utc(2026, 1, 1, 0, 0, 30)) == utc(2026, 1, 1, 0, 1)
    assert slot_before(reaper, utc(2026, 1, 1, 0, 0, 30)) == utc(2026, 1, 1)
    assert slot_before(reaper, utc(2026, 1, 1, 0, 0, 30, 1)) == utc(2026, 1, 1, 0, 0, 30)
    # Every beat process computes the same slots, whenever it started
    odd = Timing(interval_s=7)
    assert slot_after(odd, utc(2026, 1, 1, 0, 0, 1)) == slot_after(odd, utc(2026, 1, 1, 0, 0, 2))


def test_nothing_is_due_before_the_next_slot() -> None:
    reaper = Timing(interval_s=30)
    plan = plan_fires(reaper, SKIP, utc(2026, 1, 1, 0, 0, 30), utc(2026, 1, 1, 0, 0, 29), GRACE)

    assert plan == FirePlan((), utc(2026, 1, 1, 0, 0, 30))


def test_a_new_entry_starts_at_the_first_slot_after_now() -> None:
    plan = plan_fires(Timing(interval_s=30), SKIP, None, utc(2026, 1, 1, 0, 0, 5), GRACE)

    assert plan == FirePlan((), utc(2026, 1, 1, 0, 0, 30))


def test_a_due_slot_fires_and_the_next_one_is_planned() -> None:
    plan = plan_fires(
        Timing(interval_s=1), SKIP, utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 0, 3), GRACE
    )

    assert plan == FirePlan((utc(2026, 1, 1),), utc(2026, 1, 1, 0, 0, 1))


def test_late_slots_within_grace_each_fire_once() -> None:
    # Given a 1 s entry whose beat was away for 5 s (a slow tick, a leader failover)
    plan = plan_fires(
        Timing(interval_s=1), SKIP, utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 4, 500), GRACE
    )

    # Then every slot fires, late, and none is counted as missed
    assert plan.slots == tuple(utc(2026, 1, 1, 0, 0, s) for s in range(5))
    assert not plan.missed
    assert plan.next_run_at == utc(2026, 1, 1, 0, 0, 5)


def test_skip_drops_slots_missed_during_downtime() -> None:
    # Given a daily 03:15 entry and beat down from 03:00 to 05:00
    purge = Timing(cron="15 3 * * *")
    plan = plan_fires(purge, SKIP, utc(2026, 5, 2, 3, 15), utc(2026, 5, 2, 5), GRACE)

    # Then nothing fires and the entry waits for tomorrow
    assert plan == FirePlan((), utc(2026, 5, 3, 3, 15), missed=True)


def test_catch_up_fires_one_run_for_all_missed_slots() -> None:
    # Given a 10-minute entry and beat down for an hour
    hygiene = Timing(cron="*/10 * * * *")
    plan = plan_fires(hygiene, CATCH_UP, utc(2026, 5, 2, 3, 10), utc(2026, 5, 2, 4, 5), GRACE)

    # Then one run fires, for the newest missed slot, and the schedule resumes
    assert plan == FirePlan((utc(2026, 5, 2, 4, 0),), utc(2026, 5, 2, 4, 10), missed=True)


def test_catch_up_of_a_daily_entry_after_a_long_outage_is_one_run() -> None:
    backup = Timing(cron="30 2 * * *")
    plan = plan_fires(backup, CATCH_UP, utc(2026, 5, 1, 2, 30), utc(2026, 5, 4, 9), GRACE)

    assert plan.slots == (utc(2026, 5, 4, 2, 30),)
    assert plan.next_run_at == utc(2026, 5, 5, 2, 30)


def test_catch_up_still_fires_the_on_time_slots_after_the_missed_run() -> None:
    every_30s = Timing(interval_s=30)
    plan = plan_fires(every_30s, CATCH_UP, utc(2026, 1, 1), utc(2026, 1, 1, 0, 5), GRACE)

    minute = utc(2026, 1, 1, 0, 3)
    assert plan.slots == tuple(minute + timedelta(seconds=s) for s in (30, 60, 90, 120))
    assert plan.missed


@pytest.mark.parametrize(
    ("timing", "field", "words"),
    [
        (Timing(cron="61 * * * *"), "cron", "not a valid cron"),
        (Timing(cron="* * * *"), "cron", "five fields"),
        (Timing(cron="* * * * * *"), "cron", "five fields"),
        (Timing(cron="0 0 31 2 *"), "cron", "never fires"),
        (Timing(cron="*/90 * * * *"), "cron", "use an interval"),
        # str.isdigit holds for these, int() refuses the first: digits are ASCII digits
        (Timing(cron="*/² * * * *"), "cron", "not a valid cron"),
        (Timing(cron="*/٣ * * * *"), "cron", "not a valid cron"),
        (Timing(cron="0 3 * * *", timezone="Mars/Olympus"), "timezone", "unknown time zone"),
        (Timing(cron="0 3 * * *", timezone="../etc/passwd"), "timezone", "unknown time zone"),
        (Timing(interval_s=0), "interval_s", "between 1 and"),
        (Timing(interval_s=10, timezone="Europe/Berlin"), "timezone", "cron entries only"),
        (Timing(), "cron", "either a cron expression or an interval"),
        (Timing(cron="* * * * *", interval_s=5), "cron", "not both"),
    ],
)
def test_bad_timings_are_refused_naming_the_field(timing: Timing, field: str, words: str) -> None:
    with pytest.raises(InvalidSchedule, match=words) as caught:
        check_timing(timing)

    assert caught.value.details == [{"field": field, "message": caught.value.details[0]["message"]}]


def test_cron_spacing_is_normalised() -> None:
    assert check_timing(Timing(cron=" 15  3 * *   * ")).cron == "15 3 * * *"


@pytest.mark.parametrize(
    ("timing", "text"),
    [
        (Timing(cron="15 3 * * *"), "At 03:15 AM"),
        (Timing(cron="*/10 * * * *"), "Every 10 minutes"),
        (Timing(cron="* * * * *"), "Every minute"),
        (Timing(interval_s=30), "Every 30 seconds"),
        (Timing(interval_s=1), "Every second"),
        (Timing(interval_s=600), "Every 10 minutes"),
        (Timing(interval_s=3600), "Every hour"),
        (Timing(interval_s=90), "Every 90 seconds"),
    ],
)
def test_every_timing_has_a_human_description(timing: Timing, text: str) -> None:
    assert describe(timing) == text


def test_a_run_expires_by_its_next_slot_unless_the_entry_says_otherwise() -> None:
    assert default_expires_s(Timing(interval_s=30), utc(2026, 1, 1)) == 30
    assert default_expires_s(Timing(cron="*/10 * * * *"), utc(2026, 1, 1)) == 600
    assert default_expires_s(Timing(cron="0 0 1 * *"), utc(2026, 1, 1)) == 24 * 3600
