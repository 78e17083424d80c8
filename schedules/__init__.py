"""Beat: the static schedule catalog, the store-backed entries and the leader-locked scheduler.

Run it with ``celery -A workers.app beat -S schedules.scheduler:TaskyardScheduler``.
"""
