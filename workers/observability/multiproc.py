"""Prometheus multiprocess mode, set up by each process's entry point, never on import.

A process tree (a worker and its pool children, the API's processes, the dev stack) shares
one ``PROMETHEUS_MULTIPROC_DIR``: the operator's, or a fresh temporary directory that the
tree's root removes when it exits. The entry points call :func:`setup_multiprocess_metrics`:
the API app factory, the worker and beat (``workers/signals.py``), and the CLI commands that
run processes (``taskyard api``, ``dev`` and ``dispatcher``). Flower records none of ours.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def _remove(directory: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)


def setup_multiprocess_metrics() -> str:
    """Make this process, and those it starts, record metrics in one multiprocess directory
    (created if need be); call it before any metric is used. Idempotent; returns the directory."""
    directory = os.environ.get(ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
    else:
        directory = os.environ[ENV] = tempfile.mkdtemp(prefix="taskyard-metrics-")
        atexit.register(_remove, directory, os.getpid())
    _use_multiprocess_values()
    return directory


def _use_multiprocess_values() -> None:
    # prometheus_client chooses its value class once, when `prometheus_client.values` is first
    # imported, from the environment of that moment (its docs: set the variable before the
    # process starts). The `celery` command loads plugins (Flower's) that import it before our
    # app, and no public call chooses again, so choose again here, before any Taskyard metric
    # holds a value. tests/unit/test_metrics_setup.py pins the upstream behaviour this uses.
    from prometheus_client import values

    if values.ValueClass is values.MutexValue:
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
