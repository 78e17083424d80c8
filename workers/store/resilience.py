"""Riding out a store outage: worker-side writes retry with backoff instead of losing a record."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from workers.store.outage import note_outage

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

#: How long a record write keeps trying before the error surfaces.
WRITE_DEADLINE_S = 600.0
_MAX_PAUSE_S = 5.0


def persistently(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn`` until the store answers, backing off up to 5 s, for 10 minutes at most."""
    deadline = time.monotonic() + WRITE_DEADLINE_S
    pause = 0.2
    while True:
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError) as error:
            note_outage()
            if time.monotonic() + pause > deadline:
                raise
            log.warning(
                "store unreachable; retrying in %.1fs",
                pause,
                extra={
                    "action": "store.retry",
                    "write": fn.__name__,
                    "error": type(error).__name__,
                },
            )
            time.sleep(pause)
            pause = min(pause * 2, _MAX_PAUSE_S)
