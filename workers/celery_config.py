"""Every Celery setting, derived from :class:`~workers.settings.Settings` in one place."""

from __future__ import annotations

from typing import Any

from workers import speedups
from workers.priorities import DEFAULT_PRIORITY, REDIS_PRIORITY_STEPS, REDIS_SEP, to_broker
from workers.queues import QueueName, declared_queues, route_task
from workers.settings import Settings

#: Task modules the app loads, one per family; strings, so ``workers`` never imports ``tasks``.
#: ``tasks.maintenance.tasks`` loads every module the maintenance registry names.
TASK_MODULES = [
    "tasks.jobs.diag",
    "tasks.maintenance.tasks",
    "tasks.notifications.tasks",
    "tasks.alerts.tasks",
]

#: Beat's scheduler, named as a string so ``workers`` never imports ``schedules``.
BEAT_SCHEDULER = "schedules.scheduler:TaskyardScheduler"
#: Beat wakes at least this often (seconds): slots, pauses and leadership change per tick.
BEAT_TICK_S = 1.0


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """Transport options shared by producers and workers (priority steps must match)."""
    if settings.broker_family == "redis":
        return {
            "priority_steps": REDIS_PRIORITY_STEPS,
            "sep": REDIS_SEP,
            "queue_order_strategy": "priority",
            # Short on purpose: a dead worker's messages come back within seconds; a running
            # job's redelivered copy is skipped by the start guard (see store/transitions.py).
            "visibility_timeout": settings.visibility_timeout_s,
            "unacked_restore_interval": 2,
            "unacked_restore_throttle": 1,
            "health_check_interval": 25,
            "socket_keepalive": True,
        }
    return {"confirm_publish": True}


def build_celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for these settings."""
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": broker_transport_options(settings),
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_heartbeat": 30,
        "broker_pool_limit": 32,  # the API's threads each publish; none should wait for one
        "result_backend": settings.locks_url,
        "result_expires": settings.result_ttl_s,
        "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}},
        "redis_backend_health_check_interval": 25,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_queues": declared_queues(),
        "task_default_queue": QueueName.DEFAULT.value,
        "task_default_priority": to_broker(DEFAULT_PRIORITY, settings.broker_family),
        "task_create_missing_queues": False,
        "task_routes": (route_task,),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_send_task_events": True,
        "worker_consumer": speedups.worker_consumer(settings),
        "worker_prefetch_multiplier": 1,
        "worker_max_tasks_per_child": settings.worker_max_tasks_per_child,
        "worker_max_memory_per_child": settings.worker_max_memory_per_child_kib,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "beat_scheduler": BEAT_SCHEDULER,
        "beat_max_loop_interval": BEAT_TICK_S,
        "enable_utc": True,
        "timezone": "UTC",
    }
