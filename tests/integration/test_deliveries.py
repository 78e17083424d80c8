"""Deliveries on both stores, against a real HTTP sink on loopback: a notification makes one
delivery per channel, sent at most once, with retries classified, Retry-After honoured, the
outcome unknown never re-sent, render errors recorded, idempotency keys and digests; and a
real worker and dispatcher carrying it all through the queues."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

from tasks.notifications import deliveries, guards, notify, store
from tasks.notifications.catalog import DeliverPayload
from tasks.notifications.channels import parse_config
from tasks.notifications.decision import Decision
from tasks.notifications.errors import DeliveryStateConflict, InvalidNotification
from tasks.notifications.notify import NotificationRequest
from tasks.notifications.sending import deliver
from tasks.notifications.states import DeliveryStatus
from tasks.notifications.tasks import notify_deliver
from tasks.notifications.template_store import create_template, delete_template
from tasks.notifications.templates import TemplateSpec
from tests.support.channels import channel_settings, webhook_channels
from tests.support.dispatcher import running_dispatcher
from tests.support.sinks import HttpSink, make_certificate, smtp_server
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers import speedups
from workers.decision import LimitReached
from workers.errors import IdempotencyConflict, InternalJobType
from workers.jobcontext import JobContext, RetryAfter
from workers.settings import get_settings
from workers.store import transitions
from workers.store.engine import session_scope
from workers.store.models import Job

pytestmark = pytest.mark.usefixtures("fresh_sink")


@pytest.fixture(scope="module", autouse=True)
def settings(sink: HttpSink) -> Iterator[None]:
    env = {"TASKYARD_NOTIFY_TIMEOUT_S": "1", "TASKYARD_NOTIFY_BACKOFF_BASE_S": "0.05",
           "TASKYARD_NOTIFY_MAX_ATTEMPTS": "3", "TASKYARD_BREAKER_FAILURES": "1000"}  # fmt: skip
    with webhook_channels(sink, "hook", "hook-b", **env):
        create_template(
            TemplateSpec(
                "welcome",
                "Hello {{ name }}",
                "Dear {{ name }},\nwelcome.",
                sample_data={"name": "Ada"},
                default_channels=("hook",),
            )
        )
        yield


def _only(sent: notify.Sent) -> deliveries.DeliveryRecord:
    (delivery,) = sent.deliveries
    return delivery


def _run(delivery_id: uuid.UUID) -> dict[str, object]:
    return deliver(DeliverPayload(delivery_id=str(delivery_id)))


def _keys(sink: HttpSink) -> list[str]:
    return [r.headers["Idempotency-Key"] for r in sink.received]


def test_a_template_goes_to_its_default_channel_once_even_when_its_job_runs_twice(
    sink: HttpSink,
) -> None:
    sent = notify.send(NotificationRequest(template="welcome", data={"name": "Grace"}))
    delivery = _only(sent)
    assert (delivery.channel_name, delivery.status) == ("hook", "queued")
    assert _run(delivery.id) == {"delivery_id": str(delivery.id), "status": "sent"}
    assert _run(delivery.id)["skipped"] == "the delivery is sent"
    assert _keys(sink) == [delivery.message_key]
    body = json.loads(sink.received[0].body)
    assert (body["subject"], body["text"]) == ("Hello Grace", "Dear Grace,\nwelcome.")
    after = deliveries.get(delivery.id)
    assert (after.status, after.attempts, after.status_code) == ("sent", 1, 200)
    assert after.sent_at is not None
    assert not sink.refused


def test_a_server_error_retries_with_back_off_and_the_last_attempt_is_dead(sink: HttpSink) -> None:
    sink.answer = "500"
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    for attempt in (1, 2):
        with pytest.raises(RetryAfter):
            _run(delivery.id)
        retrying = deliveries.get(delivery.id)
        assert (retrying.status, retrying.attempts) == ("retrying", attempt)
        assert retrying.error_class == "retryable"
        assert retrying.status_code == 500
    assert _run(delivery.id)["status"] == "dead"
    assert len(sink.received) == 3
    assert set(_keys(sink)) == {delivery.message_key}  # one key on every attempt


def test_429_honours_retry_after_and_4xx_fails_at_once(sink: HttpSink) -> None:
    sink.answer = "429"
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    with pytest.raises(RetryAfter) as retry:
        _run(delivery.id)
    assert retry.value.delay_s >= 7
    sink.answer = "400"
    other = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    assert _run(other.id)["status"] == "failed"
    assert deliveries.get(other.id).error_class == "permanent"


def test_an_answer_lost_after_the_request_went_out_is_not_sent_again(sink: HttpSink) -> None:
    sink.answer = "hang"
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    assert _run(delivery.id)["status"] == "failed"
    after = deliveries.get(delivery.id)
    assert (after.error_class, after.maybe_delivered) == ("outcome_unknown", True)
    assert len(sink.received) == 1


def test_a_run_lost_mid_send_is_not_repeated_on_a_channel_that_is_not_idempotent(
    sink: HttpSink,
) -> None:
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    assert deliveries.claim(delivery.id, "lost-run") is not None  # the run that died
    assert "skipped" in _run(delivery.id)
    after = deliveries.get(delivery.id)
    assert (after.status, after.error_class) == ("failed", "outcome_unknown")
    assert sink.received == []


def test_a_render_error_at_send_time_fails_the_delivery_with_its_reason(sink: HttpSink) -> None:
    delivery = _only(notify.send(NotificationRequest(template="welcome", data={"nom": "x"})))
    assert _run(delivery.id)["status"] == "failed"
    after = deliveries.get(delivery.id)
    assert after.error_class == "unsendable"
    assert after.last_error is not None
    assert "'name' is undefined" in after.last_error
    assert sink.received == []


def test_a_template_removed_before_the_send_fails_the_delivery_unsent(sink: HttpSink) -> None:
    # Given a delivery of a template's notification, and the template removed after it
    spec = TemplateSpec("short-lived", "Hi {{ name }}", "Bye.", sample_data={"name": "x"})
    template = create_template(spec)
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), template="short-lived",
                                                     data={"name": "Ada"})))  # fmt: skip
    delete_template(template.id)
    # When its job runs, then it fails as unsendable and nothing is sent
    assert _run(delivery.id)["status"] == "failed"
    after = deliveries.get(delivery.id)
    assert (after.error_class, after.last_error) == (
        "unsendable",
        "template 'short-lived' no longer exists",
    )
    assert sink.received == []


def test_an_idempotency_key_returns_the_same_notification_and_refuses_another_request() -> None:
    request = NotificationRequest(channels=("hook", "hook-b"), subject="s", text="t",
                                  idempotency_key="k-1")  # fmt: skip
    first = notify.send(request)
    again = notify.send(request)
    assert (first.created, again.created) == (True, False)
    assert again.notification.id == first.notification.id
    assert {d.id for d in again.deliveries} == {d.id for d in first.deliveries}
    assert [d.channel_name for d in first.deliveries] == ["hook", "hook-b"]
    with pytest.raises(IdempotencyConflict):
        notify.send(NotificationRequest(channels=("hook",), subject="s", text="other",
                                        idempotency_key="k-1"))  # fmt: skip


def test_notifications_sharing_a_digest_key_go_out_as_one_message(sink: HttpSink) -> None:
    made = [
        notify.send(
            NotificationRequest(
                channels="hook-*",
                subject=f"s{n}",
                text=f"t{n}",
                digest_key="d-1",
                digest_window_s=60,
            )
        )
        for n in range(3)
    ]
    ids = {_only(sent).id for sent in made}
    assert len(ids) == 1
    (digest_id,) = ids
    assert deliveries.get(digest_id).status == "scheduled"
    assert _run(digest_id)["status"] == "sent"
    body = json.loads(sink.received[0].body)
    assert body["subject"] == "3 notifications: s0"
    assert "t0" in body["text"]
    assert "t2" in body["text"]
    critical = notify.send(NotificationRequest(channels=("hook-b",), subject="now", text="t",
                                               digest_key="d-1", digest_window_s=60,
                                               queue="critical"))  # fmt: skip
    assert _only(critical).status == "queued"
    assert _only(critical).digest_key is None


def test_the_read_before_the_claim_rides_out_a_dropped_connection(
    sink: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a delivery, and the store dropping the connection of its first read
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    real = deliveries.load
    calls: list[uuid.UUID] = []

    def dropped_once(delivery_id: uuid.UUID) -> deliveries.Loaded | None:
        calls.append(delivery_id)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(delivery_id)

    monkeypatch.setattr(deliveries, "load", dropped_once)
    # When its job runs, then the read is tried again and the delivery sent once
    assert _run(delivery.id)["status"] == "sent"
    assert calls == [delivery.id, delivery.id]
    assert len(sink.received) == 1


def test_a_digests_replay_sends_its_members_though_it_has_no_digest_key(sink: HttpSink) -> None:
    # Given a digest of two notifications that failed
    made = [
        notify.send(
            NotificationRequest(
                channels=("hook",),
                subject=f"r{n}",
                text="t",
                digest_key="d-replay",
                digest_window_s=60,
            )
        )
        for n in range(2)
    ]
    (digest_id,) = {_only(sent).id for sent in made}
    sink.answer = "400"
    assert _run(digest_id)["status"] == "failed"
    # When it is replayed (a delivery with the same members and no digest key) and sent
    sink.answer = "ok"
    replayed = notify.replay(digest_id)
    assert replayed.digest_key is None
    assert _run(replayed.id)["status"] == "sent"
    # Then both members go out again, not just the first notification
    assert json.loads(sink.received[-1].body)["subject"] == "2 notifications: r0"


@pytest.mark.parametrize(
    "request_",
    [
        NotificationRequest(channels=("hook",), subject="s", text="t"),
        NotificationRequest(template="welcome", data={"name": "Ada"}),
    ],
    ids=["literal", "templated"],
)
def test_a_delivery_is_read_once_claimed_once_and_settled_once(
    request_: NotificationRequest,
) -> None:
    # Given a delivery, and every statement sent to the store counted
    delivery = _only(notify.send(request_))
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    # When its job runs
    event.listen(Engine, "before_cursor_execute", count)
    try:
        assert _run(delivery.id)["status"] == "sent"
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    # Then the delivery, its channel, its notification and its template are one read
    assert statements == ["SELECT", "UPDATE", "UPDATE"]


def test_a_run_as_a_job_ends_its_delivery_and_its_job_in_one_write() -> None:
    # Given a delivery, and every statement sent to the store counted
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    # When its job runs as a worker runs it
    event.listen(Engine, "before_cursor_execute", count)
    try:
        notify_deliver.apply(args=[{"delivery_id": str(delivery.id)}], task_id=str(delivery.job_id))
    finally:
        event.remove(Engine, "before_cursor_execute", count)

    # Then the job's start, the read, the claim, and the delivery's outcome with the job's
    # success: one statement on PostgreSQL, two on SQLite
    # (the job's start runs as a prepared statement, below SQLAlchemy's events, when the
    # speedups are on with PostgreSQL)
    postgres = get_settings().database_url.startswith("postgresql")
    together = ["WITH"] if postgres else ["UPDATE"] * 2
    start = [] if postgres and speedups.enabled() else ["UPDATE"]
    assert statements == [*start, "SELECT", "UPDATE", *together]
    assert deliveries.get(delivery.id).status == "sent"
    with session_scope() as session:
        job = session.get_one(Job, delivery.job_id)
        assert (job.status, job.result) == ("succeeded", {"delivery_id": str(delivery.id),
                                                          "status": "sent"})  # fmt: skip


def test_a_job_succeeds_with_its_delivery_only_when_it_holds_the_claim() -> None:
    # Given a delivery whose job has started and which is claimed for a send
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    started = transitions.claim_start(str(delivery.job_id), "w@host", 60, "job-token")
    claim = deliveries.claim(delivery.id, "claim-token")
    assert started is not None
    assert claim is not None
    job = JobContext(started)
    sent = Decision(DeliveryStatus.SENT, None, None)

    # When a run whose claim was taken over settles it, nothing is written
    lost = deliveries.SendClaim(delivery.id, "another-token", claim.attempt)
    assert deliveries.settle(lost, sent, None, job, {"lost": True}) is False
    assert job.success_recorded is False
    assert deliveries.get(delivery.id).status == "sending"

    # Then the run holding the claim records the delivery's outcome and the job's success
    assert deliveries.settle(claim, sent, None, job, {"ok": True}) is True
    assert job.success_recorded is True
    assert deliveries.get(delivery.id).status == "sent"
    with session_scope() as session:
        record = session.get_one(Job, delivery.job_id)
        assert (record.status, record.result) == ("succeeded", {"ok": True})


def test_bad_requests_are_refused_before_anything_is_recorded() -> None:
    for request in (
        NotificationRequest(channels=("nope",), subject="s", text="t"),
        NotificationRequest(channels="zz-*", subject="s", text="t"),
        NotificationRequest(channels=("hook",), subject="two\nlines", text="t"),
        NotificationRequest(channels=("hook",), template="welcome", subject="s"),
        NotificationRequest(channels=("hook",), subject="s", text="t", priority=10),
        NotificationRequest(channels=("hook",), subject="s", text="t", queue="nope"),
        NotificationRequest(channels=("hook",), subject="s", text="t", digest_key="k"),
    ):
        with pytest.raises(InvalidNotification):
            notify.send(request)


def test_the_delivery_job_type_is_internal() -> None:
    from tasks.jobs.producer import JobRequest, prepare

    with pytest.raises(InternalJobType):
        prepare(JobRequest(type="notify.deliver", payload={"delivery_id": str(uuid.uuid4())}))


def test_a_worker_and_the_dispatcher_carry_deliveries_and_their_retries(sink: HttpSink) -> None:
    sink.answer = "500"
    with embedded_worker(), running_dispatcher():
        sent = notify.send(NotificationRequest(channels=("hook", "hook-b"), subject="s", text="t"))
        wait_for(lambda: len(sink.received) >= 2, what="first attempts")
        sink.answer = "ok"
        for delivery in sent.deliveries:
            wait_for(lambda d=delivery: deliveries.get(d.id).status == "sent", timeout=30,
                     what="sent after a retry")  # fmt: skip
    with session_scope() as session:
        jobs = [session.get(Job, d.job_id) for d in sent.deliveries]
    assert all(job is not None and job.status == "succeeded" for job in jobs)
    paths = {r.path for r in sink.received if r.headers.get("Idempotency-Key")}
    assert paths == {"/hook", "/hook-b"}


def test_a_delivery_whose_job_ended_without_it_is_reaped_with_what_is_known() -> None:
    waiting = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    sending = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    assert deliveries.claim(sending.id, "gone") is not None
    with session_scope() as session:
        for delivery in (waiting, sending):
            job = session.get(Job, delivery.job_id)
            assert job is not None
            job.status = "dead"  # its workers kept dying: the reaper buried it
    assert deliveries.reap_orphans() >= 2
    after_waiting, after_sending = deliveries.get(waiting.id), deliveries.get(sending.id)
    assert (after_waiting.status, after_waiting.error_class) == ("failed", "orphaned")
    assert (after_sending.status, after_sending.error_class) == ("failed", "outcome_unknown")
    assert after_sending.maybe_delivered


def test_a_cancelled_delivery_is_never_sent_and_cannot_be_cancelled_twice(sink: HttpSink) -> None:
    delivery = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
    assert deliveries.cancel(delivery.id).status == "cancelled"
    assert "skipped" in _run(delivery.id)
    with pytest.raises(DeliveryStateConflict):
        deliveries.cancel(delivery.id)
    assert sink.received == []


def test_a_templated_email_delivery_goes_over_starttls_once_with_its_key_as_message_id(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    certificate = make_certificate(tmp_path_factory.mktemp("tls"))
    with (
        channel_settings(TASKYARD_NOTIFY_CA_FILE=str(certificate.cert)),
        smtp_server("starttls", certificate, ("ops", "smtp-pass-0123")) as mailbox,
    ):
        config = {"kind": "email", "host": "localhost", "port": mailbox.port,
                  "security": "starttls", "username": "ops", "password": "smtp-pass-0123",
                  "sender": "taskyard@example.com", "recipients": ["ops@example.com"]}  # fmt: skip
        store.create_channel("mail", parse_config(config))
        request = NotificationRequest(channels=("mail",), template="welcome", data={"name": "Lin"})
        delivery = _only(notify.send(request))
        assert _run(delivery.id)["status"] == "sent"
        assert "skipped" in _run(delivery.id)
    [(sender, recipients, received)] = mailbox.messages
    assert (sender, recipients) == ("taskyard@example.com", ["ops@example.com"])
    assert received["Subject"] == "Hello Lin"
    assert received["Message-ID"] == f"<taskyard.{delivery.message_key}@example.com>"
    after = deliveries.get(delivery.id)
    assert (after.status_code, after.provider_message_id) == (250, received["Message-ID"])
    assert mailbox.logins == ["ops"]


def test_an_open_breaker_holds_deliveries_back_in_the_store_until_it_half_opens(
    sink: HttpSink,
) -> None:
    endpoint = sink.url
    guards.reset_breaker(endpoint)
    with channel_settings(TASKYARD_BREAKER_FAILURES="2", TASKYARD_BREAKER_RESET_S="0.5"):
        sink.answer = "500"
        for _ in range(2):
            failing = _only(notify.send(NotificationRequest(channels=("hook",), subject="s",
                                                            text="t")))  # fmt: skip
            with pytest.raises(RetryAfter):
                _run(failing.id)
        assert guards.breaker_status(endpoint).state == "open"
        held = _only(notify.send(NotificationRequest(channels=("hook",), subject="s", text="t")))
        with pytest.raises(LimitReached) as deferred:
            _run(held.id)
        assert 0 < deferred.value.wait_s <= 0.5
        after = deliveries.get(held.id)
        assert (after.status, after.attempts) == ("scheduled", 0)
        assert len(sink.received) == 2  # nothing sent while open
        sink.answer = "ok"
        time.sleep(0.6)  # the breaker's reset time: it half-opens for one trial
        assert _run(held.id)["status"] == "sent"
        assert guards.breaker_status(endpoint).state == "closed"
