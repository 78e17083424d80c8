"""Metrics are set up by each process's entry point, never by an import: importing Taskyard's
modules creates no directory and leaves prometheus_client as it chose, and the setup, even
after every import (the CLI imports all its commands first), makes every metric record in
the shared directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: The modules each process starts from (API, client, worker, beat, dispatcher, CLI).
ENTRY_MODULES = (
    "workers.errors",
    "api.client",
    "workers.app",
    "workers.signals",
    "workers.dispatcher",
    "schedules.scheduler",
    "api.app",
    "cli.main",
)
REPORT = """
import json, os, sys
values = sys.modules.get("prometheus_client.values")
print(json.dumps({
    "env": os.environ.get("PROMETHEUS_MULTIPROC_DIR"),
    "in_process_values": values is None or values.ValueClass is values.MutexValue,
    "tmp": os.listdir(os.environ["TMPDIR"]),
    "cwd": os.listdir("."),
}))
"""


def run_fresh(code: str, tmp_path: Path) -> dict[str, Any]:
    """Run ``code`` in a new interpreter with an empty working directory, an empty TMPDIR
    and no Taskyard or Prometheus variables; its last stdout line, as JSON."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TMPDIR": str(tmp),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_entry_modules_sets_nothing_up(tmp_path: Path) -> None:
    report = run_fresh(f"import {', '.join(ENTRY_MODULES)}\n{REPORT}", tmp_path)

    assert report == {"env": None, "in_process_values": True, "tmp": [], "cwd": []}


def test_the_setup_after_every_import_records_every_metric_in_one_directory(
    tmp_path: Path,
) -> None:
    code = """
import json, os
import cli.main
from prometheus_client import generate_latest
from workers.observability import metrics
from workers.observability.multiproc import setup_multiprocess_metrics

directory = setup_multiprocess_metrics()
metrics.dispatched_jobs().inc(3)
metrics.REAPED.labels("dead").inc()
text = generate_latest(metrics.multiprocess_registry()).decode()
print(json.dumps({"directory": directory, "files": os.listdir(directory), "text": text}))
"""
    report = run_fresh(code, tmp_path)

    assert Path(report["directory"]).parent == tmp_path / "tmp"
    assert report["files"]
    assert "taskyard_dispatched_jobs_total 3.0" in report["text"]
    assert 'taskyard_reaped_jobs_total{action="dead"} 1.0' in report["text"]


def test_prometheus_client_chooses_its_value_class_as_the_setup_relies_on(
    tmp_path: Path,
) -> None:
    """Pins upstream: the class is chosen at import from the environment, and
    ``get_value_class`` chooses the multiprocess one once the variable is set."""
    code = """
import json, os
from prometheus_client import values
before = values.ValueClass is values.MutexValue
os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["TMPDIR"]
chosen = values.get_value_class()
print(json.dumps({"before": before, "after": chosen.__qualname__}))
"""
    report = run_fresh(code, tmp_path)

    assert report == {"before": True, "after": "MultiProcessValue.<locals>.MmapedValue"}
