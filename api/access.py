"""Which scope each endpoint needs, read from the key dependency each route declares: the
table in ``docs/security.md`` is rendered from here (``python -m api.access --write``) and
``tests/unit/test_access_table.py`` holds it to the code, so it cannot drift."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api import auth
from api.schemas import error_responses
from api.surfaces import metrics_token

_JOBS = (
    "; `jobs:queue:<queue>` for the job's queue when the key holds queue scopes; what it "
    "enqueues at most `jobs:priority:<max>`"
)
#: What each key dependency asks of a key, in the words of the table.
NEEDS: dict[Callable[..., Any], str] = {
    auth.reader: "`jobs:read`",
    auth.job_reader: "`jobs:read`, or `jobs:read:own` (the key's own jobs; another's: 404)",
    auth.writer: "`jobs:write`, or `jobs:write:<glob>` matching the job's type" + _JOBS,
    auth.admin: "`admin`",
    auth.queue_admin: "`admin`" + _JOBS,
    auth.delivery_reader: "`notifications:read`",
    auth.notifier: "`notifications:write`, or `notifications:write:<glob>` matching each channel",
    auth.alert_sender: "`alerts:write`",
    auth.current_key: "any live key",
}
#: What a route that takes no key asks instead (not rate limited: no 429 is documented).
TOKENS: dict[Callable[..., Any], str] = {
    metrics_token: "nothing, or `Authorization: Bearer <TASKYARD_METRICS_TOKEN>` when that is set",
}
NONE = "nothing"
START = "<!-- endpoint-scopes:start -->"
END = "<!-- endpoint-scopes:end -->"
DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """The dependencies' callables, the route's own first, then theirs."""
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
    for dependency in dependant.dependencies:
        yield from _calls(dependency)


def _first(route: APIRoute, table: dict[Callable[..., Any], str]) -> str | None:
    return next((table[call] for call in _calls(route.dependant) if call in table), None)


def needs(route: APIRoute) -> str | None:
    """What ``route`` asks of a key, or ``None`` when it takes none."""
    return _first(route, NEEDS)


def document_access(router: APIRouter) -> APIRouter:
    """``router`` with a 429 (rate limited) in the OpenAPI responses of every route that
    takes a key (a route's own entry stays)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and needs(route) is not None:
            for status, documented in error_responses(429).items():
                route.responses.setdefault(status, documented)
    return router


def _routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, those of included routers too (their paths carry their own prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _routes(included.routes) if isinstance(included, APIRouter) else [route]


def scope_table(app: FastAPI) -> str:
    """The Markdown table of every endpoint of ``app`` and what it needs, in path order."""
    rows = []
    for route in _routes(app.routes):
        path = getattr(route, "path", "")
        methods = sorted(getattr(route, "methods", None) or {"GET"})
        need = needs(route) or _first(route, TOKENS) if isinstance(route, APIRoute) else None
        for method in methods:
            if method != "HEAD":
                rows.append((path, method, need or NONE))
    lines = ["| endpoint | needs |", "| --- | --- |"]
    lines += [f"| `{method} {path}` | {need} |" for path, method, need in sorted(rows)]
    return "\n".join(lines)


def documented_table(text: str) -> str:
    """The table between the markers in ``text`` (the security page)."""
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main(argv: list[str]) -> None:
    """Print the table; with ``--write``, put it between the markers of the security page."""
    from api.app import create_app

    table = scope_table(create_app())
    if "--write" not in argv:
        sys.stdout.write(table + "\n")
        return
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    DOC.write_text(f"{head}{START}\n{table}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main(sys.argv[1:])
