"""Single-job enqueues from concurrent requests, written to the store and the broker together.

A request to enqueue one job used to cost its own thread hop, ``INSERT`` round trip and
broker push. Here a process keeps one write in flight: the jobs that arrive meanwhile wait for
it to finish and then go in the next write, as one insert and one push. Alone, a request waits
for nothing but its own write; under load, the cost of a write is shared by every request in
it. Each job is answered only once it is stored and published, as before, and a write that
fails fails every request in it (none of their jobs is kept), so nothing is reported enqueued
that is not.

Jobs with an idempotency or unique key are looked up before they are inserted, so they are
written one by one in the thread pool, as before.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from tasks.jobs.producer import Prepared, Producer, Rejected, Submission
from workers.observability import tracing

#: Most jobs in one write; more wait for the next.
MAX_WRITE = 500


@dataclass(frozen=True)
class _Waiting:
    prepared: Prepared
    answer: asyncio.Future[Submission]
    #: The request's trace context, when tracing is on.
    trace: tracing.Carrier | None


class CoalescedSubmissions:
    """Enqueues single jobs for the requests of one event loop, sharing writes under load."""

    def __init__(self, producer: Producer, max_write: int = MAX_WRITE) -> None:
        self._producer = producer
        self._max_write = max_write
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, prepared: Prepared) -> Submission:
        """Record and publish ``prepared`` or resolve it to the job its keys name; raises
        what refused it (see the module's docstring)."""
        if prepared.dedupe is not None:
            (outcome,) = await run_in_threadpool(self._producer.submit, [prepared])
            if isinstance(outcome, Rejected):
                raise outcome.error
            return outcome
        answer: asyncio.Future[Submission] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(prepared, answer, tracing.carrier()))
        if self._writer is None:
            # An empty context: the writer serves many requests and must log as none of them.
            self._writer = asyncio.create_task(self._write_all(), context=contextvars.Context())
        return await answer

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_write]
                del self._waiting[: self._max_write]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, batch: Sequence[_Waiting]) -> None:
        prepared = [waiting.prepared for waiting in batch]
        try:
            with tracing.enqueue_span([waiting.trace for waiting in batch]):
                submitted = await run_in_threadpool(self._producer.submit, prepared)
        except Exception as error:  # the store or the broker refused: every request hears it
            for waiting in batch:
                if not waiting.answer.done():
                    waiting.answer.set_exception(error)
            return
        except BaseException:  # the loop is shutting down
            for waiting in batch:
                waiting.answer.cancel()
            raise
        for waiting, submission in zip(batch, submitted, strict=True):
            if waiting.answer.done():  # a request cancelled meanwhile; its job stands
                continue
            if isinstance(submission, Rejected):  # not for jobs without keys, but typed so
                waiting.answer.set_exception(submission.error)
            else:
                waiting.answer.set_result(submission)
