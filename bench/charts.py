"""PNG charts of a run (matplotlib, the ``bench`` extra): throughput bars, latency
distributions, the memory curve. Each returns the file it wrote, or ``None`` without data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.model import Measurement
from bench.report import spread

COLOURS = {"taskyard": "#2f6db5", "plain": "#8fb3e0", "bare": "#9a9a9a"}
LABELS = {"taskyard": "Taskyard", "plain": "Taskyard, speedups off", "bare": "bare Celery"}


def _pooled(
    measurements: Sequence[Measurement], workload: str, system: str, key: str
) -> list[float]:
    return [
        value
        for o in measurements
        if o.workload == workload and o.system == system
        for value in o.samples.get(key, [])
    ]


#: A bar: its label, the system, and the metric key it shows.
Bar = tuple[str, str, str]
DRAIN_BARS: tuple[Bar, ...] = (
    ("Taskyard\nprefork x2", "taskyard", "jobs_per_s"),
    ("Taskyard\nprefork x4", "taskyard", "jobs_per_s_wide"),
    ("speedups off\nprefork x2", "plain", "jobs_per_s"),
    ("bare Celery\nprefork x2", "bare", "jobs_per_s"),
)
SINGLE_BARS: tuple[Bar, ...] = (
    ("Taskyard API", "taskyard", "single_per_s"),
    ("speedups off", "plain", "single_per_s"),
    ("bare send_task", "bare", "single_per_s"),
)
BATCH_BARS: tuple[Bar, ...] = (
    ("Taskyard API batch", "taskyard", "batch_per_s"),
    ("speedups off batch", "plain", "batch_per_s"),
    ("bare send_task loop", "bare", "batch_per_s"),
)


def _bars(
    axes: Axes, measurements: Sequence[Measurement], workload: str, bars: Sequence[Bar], unit: str
) -> bool:
    """Median bars with min-max whiskers; whether any had data."""
    drawn = False
    for index, (_, system, key) in enumerate(bars):
        value = spread(measurements, workload, system, key)
        if value is None:
            continue
        low, high = value.median - value.low, value.high - value.median
        axes.bar(index, value.median, yerr=[[low], [high]], capsize=6, color=COLOURS[system])
        axes.annotate(
            f"{value.median:,.0f}",
            (index, value.median),
            xytext=(14, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
        )
        drawn = True
    axes.set_xticks(range(len(bars)), [label for label, _, _ in bars])
    axes.set_ylabel(unit)
    return drawn


def _cdf(axes: Axes, values: list[float], system: str) -> None:
    ordered = sorted(values)
    fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
    axes.step(ordered, fractions, where="post", color=COLOURS[system], label=LABELS[system])


def _save(figure: Figure, directory: Path, name: str) -> str:
    figure.tight_layout()
    figure.savefig(directory / name, dpi=110)
    plt.close(figure)
    return name


def drain(measurements: Sequence[Measurement], directory: Path) -> str | None:
    """Drain throughput: Taskyard x2, Taskyard x4, bare Celery x2."""
    figure, axes = plt.subplots(figsize=(6.5, 4))
    if not _bars(axes, measurements, "drain", DRAIN_BARS, "jobs/s"):
        plt.close(figure)
        return None
    axes.set_title("1. Drain throughput (no-op jobs; median, min-max)")
    return _save(figure, directory, "drain_throughput.png")


def _distributions(
    measurements: Sequence[Measurement],
    directory: Path,
    workload: str,
    panels: Sequence[tuple[str, str]],
    name: str,
    target_ms: float | None = None,
) -> str | None:
    if not any(o.workload == workload for o in measurements):
        return None
    figure, grid = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for axes, (key, title) in zip(grid[0], panels, strict=True):
        for system in ("taskyard", "plain", "bare"):
            values = _pooled(measurements, workload, system, key)
            if values:
                _cdf(axes, values, system)
        if target_ms is not None:
            axes.axvline(target_ms, color="#c0392b", linestyle="--", label="target")
        axes.set_xscale("log")
        axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlabel("ms (log scale)")
        axes.set_ylabel("fraction of jobs")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend()
    return _save(figure, directory, name)


def latency(measurements: Sequence[Measurement], directory: Path) -> str | None:
    """Enqueue → start and enqueue → finish at ~100 jobs/s, every repeat pooled."""
    panels = [("start_ms", "2. enqueue → start"), ("finish_ms", "2. enqueue → finish")]
    return _distributions(measurements, directory, "latency", panels, "latency.png")


def priority(measurements: Sequence[Measurement], directory: Path) -> str | None:
    """High-job waits behind the bulk backlog, every repeat pooled."""
    panels = [("wait_ms", "3. high-priority wait behind a bulk backlog")]
    return _distributions(measurements, directory, "priority", panels, "priority_wait.png", 20.0)


def api(measurements: Sequence[Measurement], directory: Path) -> str | None:
    """Enqueue rates: single requests and batches (bare Celery: send_task in-process)."""
    figure, (single, batch) = plt.subplots(1, 2, figsize=(10, 4))
    drawn = _bars(single, measurements, "api", SINGLE_BARS, "calls/s")
    drawn |= _bars(batch, measurements, "api", BATCH_BARS, "jobs/s")
    if not drawn:
        plt.close(figure)
        return None
    batch.axhline(10_000, color="#c0392b", linestyle="--", label="target 10,000/s")
    batch.legend()
    single.set_title("4. one job per call, 16 threads")
    batch.set_title("4. batches of 1,000, 16 threads")
    return _save(figure, directory, "api_throughput.png")


def memory(measurements: Sequence[Measurement], directory: Path) -> str | None:
    """Worker RSS after the warm-up and after each tenth of the jobs."""
    runs = [o for o in measurements if o.workload == "memory"]
    if not runs:
        return None
    figure, axes = plt.subplots(figsize=(6.5, 4))
    labelled: set[str] = set()
    for measurement in runs:
        curve = measurement.samples["rss_mib"]
        step = measurement.params["jobs"] / (len(curve) - 1)
        xs = [i * step for i in range(len(curve))]
        label = LABELS[measurement.system] if measurement.system not in labelled else None
        labelled.add(measurement.system)
        axes.plot(xs, curve, marker="o", color=COLOURS[measurement.system], alpha=0.8, label=label)
    axes.set_xlabel("jobs after the warm-up")
    axes.set_ylabel("RSS, MiB (parent + pool)")
    axes.set_title("5. Worker memory (one line per repeat)")
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(figure, directory, "memory.png")


CHARTS: tuple[Callable[[Sequence[Measurement], Path], str | None], ...] = (
    drain,
    latency,
    priority,
    api,
    memory,
)


def draw(measurements: Sequence[Measurement], directory: Path) -> list[str]:
    """Every chart there is data for; the file names written."""
    return [name for chart in CHARTS if (name := chart(measurements, directory)) is not None]
