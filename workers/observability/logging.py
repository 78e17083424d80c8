"""Structured logs: one JSON object per line carrying the job and correlation ids."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from workers.observability import context, tracing
from workers.observability.redaction import mask
from workers.observability.scrub import scrub_field, scrub_text

QUIET_LOGGERS = ("celery.app.trace", "celery.worker.strategy")
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; ``extra=`` fields (e.g. ``action``) are kept."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = scrub_field(key, value)
        if (job := context.job_id.get()) and "job_id" not in entry:
            entry["job_id"] = job
        if cid := context.correlation_id.get():
            entry.setdefault("correlation_id", cid)
        if tracing.ACTIVE and (ids := tracing.current_ids()):
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            # A log record's message is masked as it is made (redaction's record factory);
            # its traceback only here, and only lines with one pay for it.
            entry["exc"] = scrub_text(mask(self.formatException(record.exc_info)))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, with secrets scrubbed."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(mask(super().format(record)))


def configure_logging(fmt: str, level: str) -> None:
    """Send every logger's records to stderr in ``fmt`` (``json`` or ``text``) at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Celery's per-task "received"/"succeeded" lines repeat our job.* lines; keep its warnings.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
