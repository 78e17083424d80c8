"""Choose the Prometheus multiprocess directory before anything imports ``prometheus_client``.

Imported first by the ``workers`` package. Each process tree (a worker and its pool
children, the API, the dispatcher) gets its own directory unless the operator set
``PROMETHEUS_MULTIPROC_DIR``; the tree's root removes it when it exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def _remove(directory: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)


if ENV not in os.environ:
    os.environ[ENV] = tempfile.mkdtemp(prefix="taskyard-metrics-")
    atexit.register(_remove, os.environ[ENV], os.getpid())
    # The `celery` command loads plugins (Flower's among them) that import prometheus_client
    # before our app: it then chose in-process values. Choose again now the directory is set,
    # before any Taskyard metric exists.
    _values = sys.modules.get("prometheus_client.values")
    if _values is not None:
        _values.ValueClass = _values.get_value_class()  # type: ignore[attr-defined]
