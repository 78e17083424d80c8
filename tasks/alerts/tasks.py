"""What the Celery app loads for alerts (``celery_config.TASK_MODULES`` names this module as a
string): ``alerts.evaluate_chunk``, one chunk of the rules a tick of ``maintenance.alerts``
found due, evaluated by whichever worker consumes the maintenance queue first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Task

from tasks.alerts import TICK_S
from tasks.alerts.evaluation import Due, decode, encode, evaluate_chunk, figures
from workers.app import app

NAME = "alerts.evaluate_chunk"
TIME_LIMIT_S = 120
#: A chunk nobody started within this many seconds is dropped: the queue holds at most this
#: many ticks' chunks when no worker takes them.
EXPIRES_S = 3 * TICK_S


def evaluate_chunk_run(items: list[list[str]]) -> dict[str, Any]:
    """Evaluate one chunk of due rules and send the notices they owe; idempotent (each slot of
    a rule is applied once); no retry (a rule left due is in the next tick's chunks)."""
    return figures(evaluate_chunk(decode(items)))


evaluate_chunk_task: Task = app.task(
    evaluate_chunk_run, name=NAME, max_retries=0, acks_late=False,
    time_limit=TIME_LIMIT_S, soft_time_limit=TIME_LIMIT_S * 0.9,
)  # fmt: skip


def send_chunks(planned: Sequence[Sequence[Due]]) -> None:
    """Hand each chunk to the workers; a chunk nobody started within :data:`EXPIRES_S`
    expires (its rules, still due, are in a later tick's chunks; a slot two ticks plan is
    applied once)."""
    for chunk in planned:
        evaluate_chunk_task.apply_async(args=[encode(chunk)], expires=EXPIRES_S)
