"""Job records as the CLI prints them: JSON-ready fields and table cells."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from cli.output import EMPTY, when
from workers.store.models import Job

#: A record's fields, in the order ``jobs show`` prints them.
FIELDS = (
    "id", "type", "status", "queue", "priority", "attempts", "max_attempts", "created_at",
    "run_at", "started_at", "finished_at", "progress", "progress_message", "cancel_requested_at",
    "timed_out", "replay_of", "replayed_by", "worker", "payload", "result", "error_type",
    "error_message", "error_traceback", "correlation_id", "api_key_id",
)  # fmt: skip


def plain(value: Any) -> Any:
    """One value as JSON can hold it: times in ISO 8601, UUIDs as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def record_fields(job: Job) -> dict[str, Any]:
    """A job record as JSON-ready fields."""
    return {name: plain(getattr(job, name)) for name in FIELDS}


def cell(value: Any) -> str:
    """One value as table text: ``-`` for nothing, yes or no, UTC times, compact JSON."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def attempts(job: Job) -> str:
    """Attempts made out of those allowed, e.g. ``2/4``."""
    return f"{job.attempts}/{job.max_attempts}"


def _shown(job: Job, name: str) -> str:
    if name == "attempts":
        return attempts(job)
    if name == "progress":
        return EMPTY if job.progress is None else f"{job.progress}%"
    return cell(getattr(job, name))


def record_rows(job: Job) -> list[tuple[str, str]]:
    """``(field, value)`` rows for a record's table (attempts shown as ``made/allowed``)."""
    names = [name for name in FIELDS if name != "max_attempts"]
    return [(name.replace("_", " "), _shown(job, name)) for name in names]
