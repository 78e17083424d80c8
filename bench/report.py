"""Results on disk: JSON lines as the run goes (timestamped file, copied to ``latest.jsonl``)
and the Markdown table of the run (``latest.md``)."""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.model import Measurement, Metric, Workload
from bench.stats import Spread


class Recorder:
    """Appends one JSON line per measurement, so a run stopped half-way keeps what it measured."""

    def __init__(self, directory: Path, stamp: str, header: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / f"{stamp}.jsonl"
        self.measurements: list[Measurement] = []
        self._write({"kind": "run", **header})

    def _write(self, line: dict[str, Any]) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps(line, default=str) + "\n")

    def add(self, measurement: Measurement) -> None:
        """Record ``measurement``."""
        self.measurements.append(measurement)
        line = asdict(measurement)
        # Samples are milliseconds or MiB: three decimals keep the file small and lose nothing.
        line["samples"] = {k: [round(v, 3) for v in vs] for k, vs in measurement.samples.items()}
        self._write({"kind": "outcome", **line})  # the file's word, kept so older runs load

    def close(self, footer: dict[str, Any]) -> None:
        """Write the closing line and copy the file to ``latest.jsonl``."""
        self._write({"kind": "end", **footer})
        shutil.copyfile(self.path, self.directory / "latest.jsonl")


def load(path: Path) -> tuple[dict[str, Any], list[Measurement], dict[str, Any]]:
    """A recorded run: its header, measurements and closing line (empty if it never closed)."""
    header: dict[str, Any] = {}
    measurements: list[Measurement] = []
    footer: dict[str, Any] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        kind = entry.pop("kind")
        if kind == "run":
            header = entry
        elif kind == "outcome":
            measurements.append(Measurement(**entry))
        else:
            footer = entry
    return header, measurements, footer


def spread(
    measurements: Iterable[Measurement], workload: str, system: str, key: str
) -> Spread | None:
    """The median and range of ``key`` over ``system``'s repeats of ``workload``."""
    values = [
        o.metrics[key]
        for o in measurements
        if o.workload == workload and o.system == system and key in o.metrics
    ]
    return Spread.of(values) if values else None


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _cell(value: Spread | None) -> str:
    if value is None:
        return "—"
    if value.count == 1:
        return f"{_number(value.median)} (n=1)"
    return f"{_number(value.median)} ({_number(value.low)}-{_number(value.high)})"


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    workload: str
    metric: str
    taskyard: str
    plain: str
    bare: str
    ratio: str
    paired: str
    plain_ratio: str
    target: str
    met: str


def _ratio(ours: Spread | None, theirs: Spread | None) -> str:
    if ours is None or theirs is None or not theirs.median:
        return "—"
    return f"{ours.median / theirs.median:.2f}x"


def paired_ratios(
    measurements: Iterable[Measurement], workload: str, metric: Metric, system: str = "taskyard"
) -> list[float]:
    """``system``'s figure over bare Celery's in the same repeat, for each repeat that has both
    (the two ran minutes apart at most, so drift on a shared machine touches both alike)."""
    by_repeat: dict[str, dict[int, float]] = {system: {}, "bare": {}}
    for o in measurements:
        key = metric.key if o.system == system else metric.bare
        if o.workload == workload and o.system in by_repeat and key in o.metrics:
            by_repeat[o.system][o.repeat] = o.metrics[key]
    ours, theirs = by_repeat[system], by_repeat["bare"]
    return [ours[r] / theirs[r] for r in sorted(ours) if theirs.get(r)]


def _paired(ratios: Sequence[float]) -> str:
    if not ratios:
        return "—"
    each = ", ".join(f"{r:.2f}" for r in ratios)
    return f"{statistics.median(ratios):.2f}x ({each})" if len(ratios) > 1 else f"{each}x"


def _row(workload: Workload, metric: Metric, measurements: Sequence[Measurement]) -> Row:
    ours = spread(measurements, workload.name, "taskyard", metric.key)
    plain = spread(measurements, workload.name, "plain", metric.key)
    theirs = spread(measurements, workload.name, "bare", metric.bare)
    met = "—"
    if metric.target is not None and ours is not None:
        ok = metric.target.met(ours.median, theirs.median if theirs else None)
        met = "yes" if ok else "**no**"
    target = metric.target.text if metric.target else ""
    return Row(
        workload.title,
        metric.label,
        _cell(ours),
        _cell(plain),
        _cell(theirs),
        _ratio(ours, theirs),
        _paired(paired_ratios(measurements, workload.name, metric)),
        _ratio(plain, theirs),
        target,
        met,
    )


def rows(workloads: Sequence[Workload], measurements: Sequence[Measurement]) -> list[Row]:
    """The table: every metric of every selected workload; pending workloads as one row."""
    table = []
    for workload in workloads:
        if workload.run is None:
            na = "not applicable yet"
            table.append(
                Row(workload.title, workload.pending_reason, na, na, na, "—", "—", "—", "", "—")
            )
            continue
        table.extend(_row(workload, metric, measurements) for metric in workload.metrics)
    return table


def markdown(
    header: dict[str, Any],
    workloads: Sequence[Workload],
    measurements: Sequence[Measurement],
    notes: Sequence[str],
    charts: Sequence[str],
) -> str:
    """``latest.md``: how the run was made, the table, the notes and the charts."""
    lines = [
        "# Taskyard against bare Celery: latest run",
        "",
        f"`{header['command']}`: started {header['started']}, "
        f"took {header['elapsed_min']:.1f} min.",
        "",
        *(f"- {name}: {value}" for name, value in header["setting"].items()),
        "",
        "Cells: median (min-max) over the repeats; ratio = Taskyard's median ÷ bare Celery's "
        "median; paired = the median of Taskyard ÷ bare Celery within each repeat, then each "
        "repeat's in order; speedups off: Taskyard with `TASKYARD_SPEEDUPS=off`, its ratio "
        "(medians) to bare Celery after it. Targets are checked on the medians.",
        "",
        "| workload | metric | Taskyard | speedups off | bare Celery | ratio | paired "
        "| off ratio | target | met? |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    previous = None
    for row in rows(workloads, measurements):
        name = row.workload if row.workload != previous else ""
        previous = row.workload
        cells = (
            name,
            row.metric,
            row.taskyard,
            row.plain,
            row.bare,
            row.ratio,
            row.paired,
            row.plain_ratio,
            row.target,
            row.met,
        )
        lines.append("| " + " | ".join(cells) + " |")
    methods = [f"Method, {w.title.split(' (')[0]}: {w.method}" for w in workloads if w.method]
    lines += ["", "## Notes", "", *(f"- {note}" for note in [*notes, *methods]), ""]
    if charts:
        lines += ["## Charts", "", *(f"![{Path(c).stem}]({c})" for c in charts), ""]
    return "\n".join(lines)
