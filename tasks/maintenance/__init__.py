"""Maintenance: retention purge, vacuum, backups, Redis hygiene and the queue canary. Each is
a Celery task ``maintenance.<name>`` over a plain function of the same name in
``tasks.maintenance.<name>``; ``tasks.maintenance.catalog`` maps names to them. (The reaper of
jobs whose worker went silent runs in the dispatcher: see ``workers/dispatcher.py``.)

This module imports nothing, so the CLI can list the names without loading the Celery app."""

from __future__ import annotations

#: Every maintenance task, by the name beat schedules and ``taskyard maintenance run`` use.
NAMES = ("purge", "vacuum", "backup", "redis_hygiene", "canary")
