"""What the Celery app loads for maintenance (``celery_config.TASK_MODULES`` names this module
as a string): every task module the registry names, so adding a task is one row there."""

from __future__ import annotations

from importlib import import_module

from tasks.maintenance.catalog import MAINTENANCE

for _task in MAINTENANCE:
    import_module(_task.module)
