"""The ``argsrepr`` header of a job message: Celery's text, without Celery's cost for plain JSON.

Replaces: ``celery.utils.saferepr.saferepr`` (what ``app.amqp.as_task_v2`` calls for the
``argsrepr`` header Flower and the logs show), a streaming, truncating ``repr`` in Python,
for arguments that are plain JSON.

Buys: most of the cost of building a message (``docs/performance.md``, "Publishing to Redis").

Unnecessary when: ``saferepr`` takes a fast path for short, plain containers itself, or Celery
lets a producer leave ``argsrepr`` out. ``tests/unit/test_argsrepr.py`` holds the two texts
equal over generated payloads, so a ``saferepr`` that changes its output fails there.

For arguments made of dicts, lists, strings, numbers, booleans and ``None`` that are shallow
and short enough for ``saferepr`` to neither elide nor cut anything, and whose strings need
no escaping, ``saferepr`` writes exactly what the built-in ``repr`` writes. :func:`args_repr`
checks for that case and hands everything else to ``saferepr``. Used only by
:mod:`workers.speedups.redis_publish` (``send_task`` calls ``saferepr`` itself).
"""

from __future__ import annotations

import sys
from typing import Any

from celery.utils.saferepr import saferepr

#: Returned by :func:`_room_left` when a value is not plain or cannot fit.
_NO_ROOM = -1


def args_repr(args: list[Any], maxsize: int, maxlevels: int) -> str:
    """``saferepr(args, maxsize, maxlevels=maxlevels)``, by ``repr`` when that gives the same."""
    levels = maxlevels or sys.maxsize  # saferepr reads a falsy maxlevels as no limit
    if _room_left(args, levels, maxsize) != _NO_ROOM:
        text = repr(args)
        if len(text) <= maxsize:
            return text
    text = saferepr(args, maxsize, maxlevels=maxlevels)
    return str(text)


def _room_left(value: Any, levels: int, room: int) -> int:
    """``room`` less a lower bound of the length of ``repr(value)``, or :data:`_NO_ROOM` when
    ``value`` is not plain: a container ``levels`` deep (``saferepr`` elides it), a string
    ``repr`` escapes or quotes differently, another type, or more text than ``room``.

    Walking stops as soon as the bound passes ``room``, so a large payload costs no more than
    ``saferepr``, which stops there too.
    """
    kind = type(value)
    if kind is str:
        if "'" in value or "\\" in value or not value.isprintable():
            return _NO_ROOM
        room -= len(value) + 2
    elif value is None or kind is int or kind is float or kind is bool:
        room -= 1
    elif kind is list and levels > 0:
        room -= 2
        for item in value:
            room = _room_left(item, levels - 1, room)
            if room < 0:
                return _NO_ROOM
    elif kind is dict and levels > 0:
        room -= 2
        for key, item in value.items():
            room = _room_left(key, 0, room)  # a container as a key is not plain
            if room >= 0:
                room = _room_left(item, levels - 1, room)
            if room < 0:
                return _NO_ROOM
    else:
        return _NO_ROOM
    return room if room >= 0 else _NO_ROOM
