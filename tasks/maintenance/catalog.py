"""Every maintenance task's plain function, by name (what the CLI runs in-process)."""

from __future__ import annotations

from collections.abc import Callable

from tasks.maintenance import NAMES
from tasks.maintenance.backup import backup
from tasks.maintenance.canary import canary
from tasks.maintenance.purge import purge
from tasks.maintenance.redis_hygiene import redis_hygiene
from tasks.maintenance.runs import RunResult
from tasks.maintenance.vacuum import vacuum

RUNNERS: dict[str, Callable[[], RunResult]] = {
    "purge": purge,
    "vacuum": vacuum,
    "backup": backup,
    "redis_hygiene": redis_hygiene,
    "canary": canary,
}
assert tuple(RUNNERS) == NAMES, "tasks.maintenance.NAMES and RUNNERS must list the same tasks"
