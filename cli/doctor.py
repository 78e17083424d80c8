"""``taskyard doctor``: are the API, the workers, the broker and the store this CLI sees one stack?

Also home of what every command says about the stack it uses: where its settings come from
(``taskyard -v``) and the refusal to talk to a dev stack that has stopped.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click
from sqlalchemy.exc import SQLAlchemyError

from cli.output import PROG, CliError, console, plural, table
from cli.paths import read_secret
from workers.app import app
from workers.errors import TaskyardError
from workers.health import check_broker
from workers.observability.scrub import scrub_text
from workers.queues import QUEUE_ORDER
from workers.settings import Settings, get_settings
from workers.stackfile import DEFAULT_VAR_DIR, applicable_file, is_live, settings_source
from workers.store import jobs as job_store
from workers.store.migrate import current_revision, head_revision
from workers.store.models import FINISHED_STATUSES, JobStatus

Status = Literal["ok", "warn", "FAIL", "skipped"]
DEFAULT_TIMEOUT_S = 15.0
WORKER_REPLY_S = 2.0
API_TIMEOUT_S = 5.0
DEV_ADMIN_KEY = "dev-admin.key"
#: Marks the doctor's own jobs in the store (``taskyard jobs show`` tells them apart).
CORRELATION_ID = "doctor"
START_THE_STACK = (
    "start it with `make run` in the project directory, or set TASKYARD_BROKER_URL and "
    "TASKYARD_DATABASE_URL to use another stack"
)
START_THE_BROKER = "start the broker, or fix TASKYARD_BROKER_URL; for the dev stack, `make run`"
START_THE_STORE = "start the database, or fix TASKYARD_DATABASE_URL"
START_THE_API = "start the API (`make run`, or `taskyard api`), or point TASKYARD_API_URL at it"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    name: str
    status: Status
    detail: str
    next_step: str = ""


def unanswered(name: str, where: str, error: Exception, next_step: str) -> Check:
    """A failed check: ``where`` does not answer, for the reason ``error`` names."""
    return Check(name, "FAIL", f"{where} does not answer ({type(error).__name__})", next_step)


def settings_origin() -> str:
    """Where this process's broker and store come from, in words."""
    source = settings_source()
    if source == "environment":
        return "TASKYARD_* environment variables"
    if source == "dev stack":
        return f"{applicable_file()}, the settings of the dev stack `make run` started here"
    return "built-in defaults (no TASKYARD_BROKER_URL or TASKYARD_DATABASE_URL, no dev stack here)"


def settings_line() -> str:
    """The broker and store a command uses, secrets masked, and where they come from."""
    settings = get_settings()
    return (
        f"broker {scrub_text(settings.broker_url)}, store {scrub_text(settings.database_url)}; "
        f"from {settings_origin()}"
    )


def defaults_note() -> str | None:
    """A reminder when neither the environment nor a dev stack chose the broker and store."""
    if settings_source() != "defaults":
        return None
    settings = get_settings()
    return (
        f"{PROG}: note: that used the built-in broker {scrub_text(settings.broker_url)} and store "
        f"{scrub_text(settings.database_url)} (no TASKYARD_* variable, no dev stack here); "
        "`taskyard doctor` checks that workers serve them"
    )


def stopped_stack() -> str | None:
    """What is wrong when the settings come from a dev stack that has stopped, else None."""
    path = applicable_file()
    if path is None or is_live(path):
        return None
    return (
        f"the dev stack in {path.parent.resolve()} is not running "
        f"({path.name} there is left from a stack that stopped)"
    )


def require_running_stack() -> None:
    """Fail at once, rather than wait on a broker that is gone, when the dev stack stopped."""
    reason = stopped_stack()
    if reason is not None:
        raise CliError(f"{reason}; {START_THE_STACK}")


def settings_check() -> Check:
    """Where the settings come from; a stopped dev stack fails here."""
    reason = stopped_stack()
    if reason is not None:
        return Check("settings", "FAIL", reason, START_THE_STACK)
    if settings_source() == "defaults":
        return Check(
            "settings", "warn", settings_origin(),
            "run this where `make run` runs, or set TASKYARD_BROKER_URL and TASKYARD_DATABASE_URL",
        )  # fmt: skip
    return Check("settings", "ok", f"from {settings_origin()}")


def broker_check(settings: Settings) -> Check:
    """The broker answers (Redis PING, or an AMQP connection), as ``/readyz`` checks it."""
    where = scrub_text(settings.broker_url)
    try:
        check_broker()
    except Exception as error:  # any failure to connect is the finding itself
        return unanswered("broker", where, error, START_THE_BROKER)
    return Check("broker", "ok", f"{where} answers")


def store_check(settings: Settings) -> Check:
    """The store answers and carries every migration."""
    where = scrub_text(settings.database_url)
    try:
        revision = current_revision(settings.database_url)
    except SQLAlchemyError as error:
        return unanswered("store", where, error, START_THE_STORE)
    head = head_revision()
    if revision != head:
        return Check(
            "store", "FAIL", f"{where} is at revision {revision or 'empty'}, not {head} (head)",
            "run `taskyard db upgrade` (with the same settings)",
        )  # fmt: skip
    return Check("store", "ok", f"{where} at revision {head} (head)")


def workers_check() -> Check:
    """Workers answer on this broker, and every queue has a consumer."""
    replies = app.control.inspect(timeout=WORKER_REPLY_S).active_queues() or {}
    if not replies:
        return Check(
            "workers", "FAIL", f"no worker answers on this broker within {WORKER_REPLY_S:.0f} s",
            "start the workers with these settings (`make run`, or the Procfile's worker lines); "
            "a worker on another broker never sees these jobs",
        )  # fmt: skip
    consumed = {queue["name"] for queues in replies.values() for queue in queues}
    nodes = ", ".join(sorted(replies))
    missing = [queue.value for queue in QUEUE_ORDER if queue.value not in consumed]
    if missing:
        return Check(
            "workers", "FAIL", f"{nodes} answer, but nobody consumes {', '.join(missing)}",
            f"start a worker for {', '.join(missing)} (see the Procfile's worker lines)",
        )  # fmt: skip
    return Check("workers", "ok", f"{nodes} answer; every queue has a consumer")


def round_trip_check(timeout_s: float) -> tuple[Check, uuid.UUID | None]:
    """A ``diag.noop`` through this broker finishes in this store: the workers share both."""
    from tasks.jobs.catalog import DIAG_NOOP
    from tasks.jobs.producer import JobRequest, enqueue
    from workers.priorities import MAX_PRIORITY

    try:
        job = enqueue(
            JobRequest(DIAG_NOOP.name, priority=MAX_PRIORITY), correlation_id=CORRELATION_ID
        )
    except TaskyardError as error:
        return Check(
            "round trip", "FAIL", f"enqueue failed: {error.message}", "fix the lines above"
        ), None
    started, status = time.monotonic(), job.status
    while time.monotonic() - started < timeout_s and status not in FINISHED_STATUSES:
        time.sleep(0.2)
        status = job_store.get_job(job.id).status
    took = time.monotonic() - started
    if status == JobStatus.SUCCEEDED:
        return Check("round trip", "ok", f"diag.noop {job.id} succeeded in {took:.1f} s"), job.id
    return Check(
        "round trip", "FAIL", f"diag.noop {job.id} is {status} after {took:.0f} s",
        "the workers answering on this broker record into another store (compare their "
        "TASKYARD_DATABASE_URL with this one), or they are busy: `taskyard jobs show` the job",
    ), job.id  # fmt: skip


def api_check(settings: Settings, job_id: uuid.UUID | None) -> Check:
    """The API at ``TASKYARD_API_URL`` is ready; with the dev admin key, it sees our job."""
    import httpx  # here: every `taskyard` start (API processes included) imports this module

    url = settings.api_url.rstrip("/")
    try:
        ready = httpx.get(f"{url}/readyz", timeout=API_TIMEOUT_S)
    except httpx.HTTPError as error:
        return unanswered("api", url, error, START_THE_API)
    if ready.status_code != 200:
        return Check(
            "api", "FAIL", f"{url}/readyz answered {ready.status_code}: {ready.text[:200]}",
            "the API cannot reach its store or broker: check its TASKYARD_* settings",
        )  # fmt: skip
    key = read_secret((settings.var_dir or Path(DEFAULT_VAR_DIR)) / DEV_ADMIN_KEY)
    if job_id is None or key is None:
        return Check("api", "ok", f"{url}/readyz: ready (store and broker reachable)")
    seen = httpx.get(
        f"{url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}, timeout=API_TIMEOUT_S
    )
    if seen.status_code != 200:
        return Check(
            "api", "FAIL", f"{url} is ready but answers {seen.status_code} for the doctor's job",
            "the API uses another store (or the dev admin key is not its): compare its settings",
        )  # fmt: skip
    return Check("api", "ok", f"{url} is ready and sees the doctor's job in the same store")


def run_checks(timeout_s: float) -> list[Check]:
    """Every check, in order; a check that needs a failed one is skipped."""
    settings = get_settings()
    checks = [settings_check()]
    if checks[0].status == "FAIL":
        return checks
    checks += [broker_check(settings), store_check(settings)]
    broker_ok = checks[1].status == "ok"
    workers = workers_check() if broker_ok else Check("workers", "skipped", "the broker fails")
    checks.append(workers)
    job_id = None
    if all(check.status != "FAIL" for check in checks):
        trip, job_id = round_trip_check(timeout_s)
        checks.append(trip)
    else:
        checks.append(Check("round trip", "skipped", "a check above fails"))
    checks.append(api_check(settings, job_id))
    return checks


@click.command()
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(1, 300), default=DEFAULT_TIMEOUT_S,
    show_default=True, metavar="SECONDS", help="How long the diag.noop round trip may take.",
)  # fmt: skip
def doctor(timeout_s: float) -> None:
    """Check that the API, the workers, the broker and the store this CLI sees are one stack.

    Pings the broker, checks the store's migrations, asks the workers on this broker which
    queues they consume, sends one diag.noop (correlation id "doctor") and waits for it to
    succeed in this store, and asks the API's /readyz (TASKYARD_API_URL). Exits 1 when a
    check fails; the table says what to do next.
    """
    checks = run_checks(timeout_s)
    rows = [(c.name, c.status, c.detail, c.next_step or "-") for c in checks]
    console().print(table(None, ("check", "status", "detail", "next step"), rows))
    failed = [check.name for check in checks if check.status == "FAIL"]
    if failed:
        raise CliError(
            f"{plural(len(failed), 'check')} failed ({', '.join(failed)}); "
            "the table above says what to do next"
        )
