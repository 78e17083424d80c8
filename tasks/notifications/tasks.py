"""What the Celery app loads for notifications (``celery_config.TASK_MODULES`` names this
module as a string): the task behind ``notify.deliver``."""

from __future__ import annotations

from typing import Any

from tasks.notifications.catalog import NOTIFY_DELIVER, DeliverPayload
from tasks.notifications.sending import deliver
from workers.jobcontext import JobContext
from workers.jobtask import job_task


@job_task(NOTIFY_DELIVER)
def notify_deliver(payload: DeliverPayload, context: JobContext) -> dict[str, Any]:
    """Send one delivery at most once (see :mod:`tasks.notifications.sending`)."""
    return deliver(payload, context)
