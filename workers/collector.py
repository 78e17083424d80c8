"""Python's cyclic garbage collector, set for processes that build many short-lived objects.

The collector looks at its youngest objects every 700 allocations by default. A batch of 1,000
jobs builds some 150 objects a job (requests, records, messages, response models), so the
collector ran about 200 times a batch, each run walking whatever the batch still held, and
the promotions it made fed costly full collections: a third of the API's CPU for a batch
(175 µs a job against 120 with collection every 50,000 allocations; ``docs/performance.md``).
Reference counting still frees everything without cycles at once; only cyclic garbage waits
longer, a few megabytes at most.
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
