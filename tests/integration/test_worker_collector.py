"""A started worker leaves what it holds out of the collector's full walks."""

from __future__ import annotations

import gc

from tests.support.speedups import needs_speedups
from tests.support.worker import embedded_worker

pytestmark = needs_speedups


def test_a_started_worker_has_frozen_its_startup_objects(runtime: dict[str, str]) -> None:
    gc.unfreeze()
    try:
        # When a worker is up and consuming
        with embedded_worker(["default"]):
            # Then the objects it started with are frozen out of full collections
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
