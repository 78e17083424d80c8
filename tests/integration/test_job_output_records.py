"""What a job writes (its result, its error, its progress note) is recorded on both stores even
when it holds what neither store takes: text with a replacement character, and a result the
store cannot hold as a failed attempt that says why, never a write the store refuses."""

from __future__ import annotations

import math
import uuid

import pytest
from sqlalchemy import update

from tasks.jobs.catalog import CATALOG
from tasks.jobs.producer import JobRequest, enqueue
from workers.decision import Decision
from workers.execution import run_attempt
from workers.storable import Unstorable
from workers.store import jobs, lifecycle, transitions
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus
from workers.store.transitions import Claim

STALE_S = 10.0


def _queued() -> str:
    """A job waiting to start that no worker will take (never published)."""
    job = enqueue(JobRequest("diag.noop", delay_s=600))
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == job.id).values(status="queued"))
    return str(job.id)


def _started() -> Claim:
    claim = transitions.claim_start(_queued(), "w@host", STALE_S, "token")
    assert claim is not None
    return claim


def test_an_error_with_nul_and_surrogates_is_recorded_with_replacements(
    runtime: dict[str, str],
) -> None:
    claim = _started()
    decision = Decision(JobStatus.FAILED, "app.Error\x00", "bad byte \x00 in \udcff")

    assert transitions.settle(claim, decision, "Traceback\x00 ...")

    record = jobs.get_job(claim.job_id)
    assert record.status == JobStatus.FAILED
    assert (record.error_type, record.error_message, record.error_traceback) == (
        "app.Error\ufffd", "bad byte \ufffd in \ufffd", "Traceback\ufffd ...")  # fmt: skip


def test_a_progress_note_with_a_nul_is_recorded_with_a_replacement(
    runtime: dict[str, str],
) -> None:
    claim = _started()

    assert lifecycle.report_progress(claim, 50, "half\x00way")

    assert jobs.get_job(claim.job_id).progress_message == "half\ufffdway"


@pytest.mark.parametrize(
    ("result", "where"),
    [({"x": math.nan}, "result.x"), ({"x": ["\x00"]}, "result.x.0"), (2**64, "result")],
)
def test_a_result_neither_store_holds_fails_the_attempt_saying_why(
    runtime: dict[str, str], result: object, where: str
) -> None:
    job_id = _queued()

    with pytest.raises(Unstorable):
        run_attempt(CATALOG.get("diag.noop"), lambda payload: result, False, job_id, "w@host", {})

    record = jobs.get_job(uuid.UUID(job_id))
    assert record.status == JobStatus.FAILED
    assert record.error_type == "workers.storable.Unstorable"
    assert record.error_message is not None
    assert record.error_message.startswith(f"{where}: ")
    assert record.result is None
