"""Maintenance: retention purge, vacuum, backups, Redis hygiene, the stuck-job reaper and the
queue canary. Each is a Celery task ``maintenance.<name>`` over a plain function of the same
name in ``tasks.maintenance.<name>``; the registry is ``tasks.maintenance.catalog``.

This package imports nothing, so the registry loads without the Celery app."""
