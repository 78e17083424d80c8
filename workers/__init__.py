"""The Celery runtime every Taskyard process shares: settings, app, queues, store, observability."""
