"""``python -m bench``: Taskyard and bare Celery side by side on private services; writes
``bench/results/`` (JSON lines, ``latest.md``, PNG charts). ``--help`` lists the options."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any, cast

from bench.bare_side import BareSystem
from bench.model import Context, Plan, Workload
from bench.report import Recorder, load, markdown
from bench.stack import REPO, CpuClock, Services, commit_latency, services
from bench.taskyard_side import TaskyardSystem
from bench.workloads import WORKLOADS

RESULTS = REPO / "bench" / "results"
#: Above this many cores used by other processes during a workload, its figures are flagged.
BUSY_CORES = 0.3
log = logging.getLogger("bench")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    names = ", ".join(w.name for w in WORKLOADS)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every size (0.05-0.2 to develop)"
    )
    parser.add_argument("--quick", action="store_true", help="the same as --scale 0.1")
    parser.add_argument(
        "--full", action="store_true", help="the issue's sizes where the default cuts them"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats per workload (3)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {names}")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--redraw", action="store_true", help="only rebuild latest.md and charts from latest.jsonl"
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs; print where"
    )
    return parser.parse_args(argv)


def _selected(only: str) -> list[Workload]:
    if not only:
        return list(WORKLOADS)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = wanted - {w.name for w in WORKLOADS}
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(sorted(unknown))}")
    return [w for w in WORKLOADS if w.name in wanted]


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _revision() -> str:
    """The checked-out commit, marked when the work tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench", ":!Makefile")
    return f"{commit} (with uncommitted changes)" if dirty else commit


def _setting(svc: Services, plan: Plan, load: float, bare: BareSystem) -> dict[str, str]:
    redis_version = cast(dict[str, Any], svc.redis.client().info())["redis_version"]
    sizes = "the issue's sizes" if plan.full else "default sizes (see the notes for cuts)"
    return {
        "machine": f"{os.cpu_count()} CPUs, 1-min load average {load:.2f} at the start",
        "code": f"git {_revision()}",
        "software": f"Python {platform.python_version()}, Celery {version('celery')}, "
        f"kombu {version('kombu')}, redis-py {version('redis')}",
        "broker": f"a private redis-server {redis_version} on a unix socket (no AOF); "
        "Taskyard on database 1, bare Celery on database 2",
        "store": svc.postgres,
        "store commits": _commit_line(svc.database_url),
        "workers": "as in the Procfile: prefork, 2 processes each unless stated, INFO logs "
        "(Taskyard's in JSON)",
        "bare Celery takes from Taskyard's app": ", ".join(
            f"{key}={value}" for key, value in bare.mirrored.items()
        ),
        "bare Celery's producer": "the harness imports Taskyard, so bare Celery's in-process "
        "send_task (workload 4, filling the queues) runs on Taskyard's Redis transport, which "
        "keeps one client per channel; bare Celery's workers run kombu's own",
        "speedups off": "Taskyard with TASKYARD_SPEEDUPS=off in its workers and API processes "
        "(drain, API): Celery's send_task, kombu's Redis transport, Celery's consumer, "
        "SQLAlchemy's INSERT, CPython's collector as it comes; the drain's queue is filled by "
        "this process with the speedups on (the same messages)",
        "sizes": f"{sizes}, scale {plan.scale:g}, {plan.repeats} repeats",
    }


def _commit_line(database_url: str) -> str:
    took = commit_latency(database_url)
    return (
        f"a one-row commit took p50 {took['p50']:.2f} ms, p99 {took['p99']:.2f} ms, max "
        f"{took['max']:.1f} ms (300 at the start): the disk's sync, which every enqueue waits for"
    )


def _run(ctx: Context, workloads: Sequence[Workload], recorder: Recorder) -> None:
    for workload in workloads:
        if workload.run is None:
            log.info("%s: not applicable yet (%s)", workload.title, workload.pending_reason)
            continue
        clock = CpuClock.read()
        log.info("%s ...", workload.title)
        for measurement in workload.run(ctx):
            recorder.add(measurement)
            shown = ", ".join(f"{k}={v:,.1f}" for k, v in list(measurement.metrics.items())[:4])
            log.info("  %s #%d: %s", measurement.system, measurement.repeat, shown)
        now = CpuClock.read()
        others = now.others_since(clock)
        log.info("  done in %.0f s; other processes used %.2f cores", now.wall - clock.wall, others)
        if others > BUSY_CORES:
            ctx.note(
                f"{workload.title.split(' (')[0]}: other processes on this machine used "
                f"{others:.2f} of its {os.cpu_count()} cores on average (PostgreSQL's work "
                "for this run included): its figures are noisy."
            )


def _charts(measurements: Any, directory: Path, notes: list[str]) -> list[str]:
    try:
        from bench import charts
    except ImportError:
        notes.append("Charts skipped: matplotlib is missing (`pip install -e '.[bench]'`).")
        return []
    return charts.draw(measurements, directory)


def _write(out: Path, header: dict[str, Any], workloads: Sequence[Workload],
           recorder: Recorder, notes: list[str]) -> None:  # fmt: skip
    now = f"git {_revision()}"
    if now != header["setting"]["code"]:
        notes.append(
            f"The code changed during the run: {header['setting']['code']} at the start, "
            f"{now} at the end."
        )
    charts = _charts(recorder.measurements, out, notes)
    (out / "latest.md").write_text(
        markdown(header, workloads, recorder.measurements, notes, charts)
    )
    recorder.close({"elapsed_min": header["elapsed_min"], "notes": notes, "charts": charts})
    log.info("wrote %s, latest.md and %d charts in %s", recorder.path.name, len(charts), out)


def _redraw(out: Path, workloads: Sequence[Workload]) -> None:
    header, measurements, footer = load(out / "latest.jsonl")
    measured = {o.workload for o in measurements}
    workloads = [w for w in workloads if w.run is None or w.name in measured]
    header["elapsed_min"] = footer.get("elapsed_min", float("nan"))
    notes = [n for n in footer.get("notes", []) if not n.startswith("Charts skipped")]
    charts = _charts(measurements, out, notes)
    (out / "latest.md").write_text(markdown(header, workloads, measurements, notes, charts))
    log.info("rebuilt latest.md and %d charts in %s", len(charts), out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected workloads; write the results; return the exit status."""
    args = _arguments(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.INFO)
    if args.redraw:
        _redraw(args.out, _selected(args.only))
        return 0
    plan = Plan(scale=0.1 if args.quick else args.scale, repeats=args.repeats, full=args.full)
    workloads = _selected(args.only)
    _stop_on_sigterm()
    started, began = datetime.now(UTC), time.monotonic()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    load = os.getloadavg()[0]
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    workdir = Path(tempfile.mkdtemp(prefix="taskyard-bench-"))
    try:
        with services(workdir) as svc:
            taskyard = TaskyardSystem(svc)
            bare = BareSystem(svc, taskyard.celery_settings())
            ctx = Context(plan, svc, taskyard, bare, taskyard.plain())
            header: dict[str, Any] = {
                "command": command.strip(),
                "started": started.isoformat(timespec="seconds"),
                "plan": vars(plan),
                "setting": _setting(svc, plan, load, ctx.bare),
            }
            recorder = Recorder(args.out, stamp, header)
            try:
                _run(ctx, workloads, recorder)
            finally:
                ctx.taskyard.close()
    finally:
        if args.keep_logs:
            log.info("logs kept in %s", workdir / "logs")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    header["elapsed_min"] = (time.monotonic() - began) / 60
    _write(args.out, header, workloads, recorder, ctx.notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
