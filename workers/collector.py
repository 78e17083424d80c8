"""Python's cyclic garbage collector, set for processes that build many short-lived objects.

The collector looks at its youngest objects every 700 allocations by default. A batch of 1,000
jobs builds some 150 objects a job (requests, records, messages, response models), so the
collector ran about 200 times a batch, each run walking whatever the batch still held, and
the promotions it made fed costly full collections: a third of the API's CPU for a batch
(175 µs a job against 120 with collection every 50,000 allocations; ``docs/performance.md``).
Reference counting still frees everything without cycles at once; only cyclic garbage waits
longer, a few megabytes at most.

A full collection walks every object the process holds: some 130,000 once the API has
started (modules, the app, settings, pools), 75 ms on the development VM, long enough to
show in the API's p99 whenever one falls among requests. :func:`freeze_startup_objects`
moves what a process holds once it has started out of the collector's reach, so later full
collections walk only what was built since.
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
