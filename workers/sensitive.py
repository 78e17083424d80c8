"""Sensitive payloads: the fields a job type marks ``sensitive`` are sealed (``workers/sealing``)
by the producer, so the store and the broker message hold only tokens; the worker opens them
just before the job's code runs, and every other reader sees :data:`REDACTED`.

A sealed field is stored as ``{"$sealed": "<Fernet token of the value as JSON>"}``. The other
fields, and the names of all of them, stay in clear. A job type that is not sensitive costs
one truth test in the producer and the worker; only the dispatcher, republishing from the
store, looks at each payload's top-level values (:func:`sealed_args_repr`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from celery.utils.saferepr import saferepr

from workers import sealing
from workers.jobtypes import JobType

SEALED = "$sealed"
REDACTED = "[redacted]"
_WHAT = "a sensitive job payload"
#: Celery's own bound on ``argsrepr`` (``app.amqp.argsrepr_maxsize``).
ARGSREPR_MAXSIZE = 1024


def is_sealed(value: Any) -> bool:
    """Whether ``value`` is a sealed field."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def sealed_payload(job_type: JobType, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` (validated, in clear) with its sensitive fields sealed."""
    return {
        name: {SEALED: sealing.seal(json.dumps(value), _WHAT)}
        if job_type.is_sensitive(name) else value
        for name, value in payload.items()
    }  # fmt: skip


def opened_payload(job_type: JobType, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` as stored or sent with its sealed fields opened (a field stored in clear
    before its type was marked sensitive is taken as it is)."""
    return {
        name: json.loads(sealing.unseal(value[SEALED], _WHAT))
        if job_type.is_sensitive(name) and is_sealed(value) else value
        for name, value in payload.items()
    }  # fmt: skip


def redacted_payload(job_type: JobType, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with every sensitive field, sealed or not, replaced by :data:`REDACTED`."""
    return {name: REDACTED if job_type.is_sensitive(name) else value
            for name, value in payload.items()}  # fmt: skip


def resealed_payload(job_type: JobType, payload: dict[str, Any]) -> dict[str, Any] | None:
    """``payload`` with every sensitive field sealed under the first key (a field in clear is
    sealed, a sealed one resealed), or ``None`` when it holds no sensitive field."""
    if not any(job_type.is_sensitive(name) for name in payload):
        return None
    return {
        name: value if not job_type.is_sensitive(name)
        else {SEALED: sealing.reseal(value[SEALED], _WHAT)} if is_sealed(value)
        else {SEALED: sealing.seal(json.dumps(value), _WHAT)}
        for name, value in payload.items()
    }  # fmt: skip


def clear_texts(job_type: JobType, opened: dict[str, Any]) -> list[str]:
    """The texts (strings, and numbers as written) in the sensitive fields of ``opened``: what
    log lines, recorded errors and Sentry events must not show while the job runs."""
    return [text for name, value in opened.items() if job_type.is_sensitive(name)
            for text in _texts(value)]  # fmt: skip


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield json.dumps(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def sealed_args_repr(payload: dict[str, Any]) -> str | None:
    """The ``argsrepr`` of a message carrying ``payload``: its sealed fields shown as
    :data:`REDACTED` (not as tokens), or ``None`` when none is sealed (Celery's repr then)."""
    if not any(is_sealed(value) for value in payload.values()):
        return None
    shown = {name: REDACTED if is_sealed(value) else value for name, value in payload.items()}
    return str(saferepr([shown], ARGSREPR_MAXSIZE))
