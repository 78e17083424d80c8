"""Maintenance: retention purge, vacuum, backups, Redis hygiene and the queue canary. Each is
a Celery task ``maintenance.<name>`` over a plain function of the same name in
``tasks.maintenance.<name>``; the registry is ``tasks.maintenance.catalog``. (The reaper of
jobs whose worker went silent runs in the dispatcher: see ``workers/dispatcher.py``.)

This package imports nothing, so the registry loads without the Celery app."""
