"""Process metrics of a whole tree in multiprocess mode: each declared process is read at
scrape time and summed per kind, a pool child's CPU stays counted after it exits, and a
process that is gone is forgotten (no longer counted, its live gauges removed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_metrics_setup import run_fresh
from workers.observability.processes import declare_process

TREE = """
import json, os, time
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from workers.observability import metrics
from workers.observability.multiproc import setup_multiprocess_metrics
from workers.observability.processes import declare_process

directory = setup_multiprocess_metrics()
declare_process("worker")
read, write = os.pipe()
child = os.fork()
if child == 0:  # a pool child: declares itself, burns some CPU, reports it, exits
    declare_process("worker")
    began = time.process_time()
    while time.process_time() - began < 0.5:
        pass
    os.write(write, str(time.process_time()).encode())
    os._exit(0)
os.close(write)
child_cpu = float(os.read(read, 100))
os.waitpid(child, 0)

def scrape():
    text = generate_latest(metrics.multiprocess_registry()).decode()
    return {s.name + repr(sorted(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}

samples = scrape()
own = os.times()
text = generate_latest(metrics.multiprocess_registry()).decode()
print(json.dumps({"samples": samples, "child_cpu": child_cpu, "own_cpu": own.user + own.system,
                  "files": os.listdir(directory), "child": child, "text": text}))
"""


def test_the_tree_counts_live_processes_and_keeps_a_reaped_childs_cpu(tmp_path: Path) -> None:
    # Given a worker process that declared itself, and a pool child that did, used CPU and exited
    report = run_fresh(TREE, tmp_path)
    samples = report["samples"]
    worker = "[('process', 'worker')]"

    # When the tree is scraped, then only the live process counts, with the child's CPU in it
    assert samples[f"taskyard_processes{worker}"] == 1
    cpu = samples[f"taskyard_process_cpu_seconds_total{worker}"]
    assert cpu - report["own_cpu"] >= report["child_cpu"] - 0.1  # clock ticks, the scrape's own
    assert samples[f"taskyard_process_resident_memory_bytes{worker}"] > 0
    assert samples[f"taskyard_process_open_fds{worker}"] > 0
    # and the child's live gauges are gone, and the declarations are not exported
    assert not [name for name in report["files"] if name.endswith(f"_{report['child']}.db")
                and name.startswith("gauge_live")]  # fmt: skip
    assert "taskyard_process_started" not in report["text"]


def test_an_unknown_process_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of api, worker, dispatcher, beat"):
        declare_process("flower")
