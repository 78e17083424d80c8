"""Liveness (``/healthz``, touches nothing) and readiness (``/readyz``: store and broker)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.schemas import HealthOut, ReadyOut
from workers.health import check_broker, check_store

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

#: Each check gives up after this long, so a probe answers in about 3 s even when a host hangs.
CHECK_TIMEOUT_S = 2.5


CHECKS: dict[str, Callable[[], None]] = {"store": check_store, "broker": check_broker}


async def run_check(name: str, check: Callable[[], None]) -> str:
    """``"ok"``, or a short reason (details go to the log, not to the unauthenticated caller)."""
    try:
        with anyio.fail_after(CHECK_TIMEOUT_S):
            await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
    except TimeoutError:
        log.warning("%s check timed out", name, extra={"action": "api.readyz", "check": name})
        return f"timed out after {CHECK_TIMEOUT_S} s"
    except Exception as error:
        log.warning(
            "%s check failed: %s", name, error, extra={"action": "api.readyz", "check": name}
        )
        return f"unreachable ({type(error).__name__})"
    return "ok"


@router.get("/healthz", summary="Liveness")
async def healthz() -> HealthOut:
    """The process answers; nothing else is touched."""
    return HealthOut()


@router.get(
    "/readyz", summary="Readiness", response_model=ReadyOut, responses={503: {"model": ReadyOut}}
)
async def readyz() -> ReadyOut | JSONResponse:
    """200 when the store and the broker both answer, else 503 naming what fails."""
    checks: dict[str, str] = {}

    async def record(name: str, check: Callable[[], None]) -> None:
        checks[name] = await run_check(name, check)

    async with anyio.create_task_group() as group:
        for name, check in CHECKS.items():
            group.start_soon(record, name, check)
    checks = {name: checks[name] for name in CHECKS}
    failing = [f"{name}: {state}" for name, state in checks.items() if state != "ok"]
    if not failing:
        return ReadyOut(status="ready", checks=checks)
    body = ReadyOut(status="unready", checks=checks, message="; ".join(failing))
    return JSONResponse(body.model_dump(), status_code=503)
