"""For tests of a speedup itself: skipped when ``TASKYARD_SPEEDUPS=off`` puts the plain paths
under test (as ``make test-plain`` does)."""

from __future__ import annotations

import pytest

from workers import speedups

needs_speedups = pytest.mark.skipif(
    not speedups.enabled(), reason="TASKYARD_SPEEDUPS=off: the plain library paths are under test"
)
