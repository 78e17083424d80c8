"""Python's cyclic garbage collector, set for processes that build many short-lived objects.

Replaces: CPython's default collector thresholds (the youngest generation every 700
allocations) in the API, and full collections that walk every object a process holds.

Buys: a share of the API's CPU per batch and its p99 latency (``docs/performance.md``,
"Garbage collector").

Unnecessary when: CPython's collector stops walking long-lived objects on its own (the
incremental collector planned for CPython 3.14 aims at that). Only public ``gc`` calls.

Reference counting still frees everything without cycles at once; only cyclic garbage waits
longer, a few megabytes at most. :func:`freeze_startup_objects` moves what a process holds
once it has started (modules, the app, settings, pools) out of the collector's reach, so
later full collections walk only what was built since.
"""

from __future__ import annotations

import gc

#: Allocations (less deallocations) between collections of the youngest generation.
YOUNG_THRESHOLD = 50_000


def tune_collector() -> None:
    """Collect the youngest generation every :data:`YOUNG_THRESHOLD` allocations; the older
    generations keep their thresholds (relative to the younger ones' collections)."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)


def freeze_startup_objects() -> None:
    """Collect once, then exempt every surviving object from later collections (they live as
    long as the process anyway). Call when a process has finished starting."""
    gc.collect()
    gc.freeze()
