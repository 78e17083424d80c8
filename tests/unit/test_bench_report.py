"""The bench's figures are computed as ``docs/performance.md`` says: ratios of medians, ratios
paired within a repeat, and CPU per job from two readings of the processes' clocks."""

from __future__ import annotations

import os

from bench import cpu
from bench.model import Measurement, Metric
from bench.report import paired_ratios, rows
from bench.workloads.drain import WORKLOAD as DRAIN

RATE = Metric("jobs_per_s", "jobs/s")


def _drains(taskyard: list[float], bare: list[float]) -> list[Measurement]:
    return [
        Measurement("drain", system, repeat, {"jobs_per_s": rate})
        for system, rates in (("taskyard", taskyard), ("bare", bare))
        for repeat, rate in enumerate(rates, start=1)
    ]


def test_paired_ratios_divide_within_each_repeat_and_skip_a_repeat_without_both() -> None:
    # Given three repeats, the third without bare Celery's figure
    measured = _drains([100, 300, 50], [200, 300])

    # Then each ratio is Taskyard's over bare Celery's of the same repeat
    assert paired_ratios(measured, "drain", RATE) == [0.5, 1.0]


def test_the_table_shows_the_ratio_of_medians_beside_the_paired_ratios() -> None:
    # Given repeats whose medians pair figures from different repeats
    measured = _drains([100, 300, 200], [400, 200, 250])

    # When the drain's table is made
    row = rows([DRAIN], measured)[0]

    # Then the ratio is median over median (200 / 250) and the paired cell gives the median of
    # the per-repeat ratios (0.25, 1.5, 0.8) and each in repeat order
    assert row.ratio == "0.80x"
    assert row.paired == "0.80x (0.25, 1.50, 0.80)"


def test_cpu_per_job_counts_each_process_from_its_first_reading() -> None:
    # Given a process seen twice, one first seen at the end, and one gone by then
    before = {"pool": {1: 1.0, 2: 5.0}, "store": {}}
    after = {"pool": {1: 1.5, 3: 0.25}, "store": {4: 0.1}}

    # Then a job cost what the processes used between the readings (ms, 100 jobs)
    used = cpu.per_job_ms(before, after, 100)
    assert used["cpu_pool_ms"] == 7.5
    assert used["cpu_store_ms"] == 1.0
    assert used["cpu_ms"] == 8.5


def test_a_process_cpu_clock_reads_this_process() -> None:
    # Given this process has done some work, its clock is positive and grows
    first = cpu.cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert cpu.cpu_seconds(os.getpid()) >= first > 0
    assert cpu.cpu_seconds(2**22 + 12345) == 0.0  # no such process
    assert cpu.cpu_seconds(-os.getpid()) >= 0.0  # the children it reaped


def test_a_pool_process_replaced_during_the_drain_counts_through_its_parent() -> None:
    # Given pool process 2 (3 s used at the start) exited and was reaped during the window,
    # after using 4 s in all, and process 3 replaced it (0.5 s)
    before = {"pool": {1: 1.0, 2: 3.0, -9: 10.0}}
    after = {"pool": {1: 2.0, 3: 0.5, -9: 14.0}}

    # Then the pool used 1 + (4 - 3) + 0.5 seconds over the window (ms, 1,000 jobs)
    assert cpu.per_job_ms(before, after, 1000)["cpu_pool_ms"] == 2.5
