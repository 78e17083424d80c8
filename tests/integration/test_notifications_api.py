"""``/v1/notifications`` and ``/v1/deliveries`` on both stores: a notification makes one
delivery per channel; idempotency keys in the body or the header; the scopes that send
(narrowed by a channel glob) and read; strict bodies; delivery pages, replay and cancel with
errors in the one shape; and the internal ``notify.deliver`` job type refused on every public
path (``/v1/jobs``, its batch and replay, dead-letter replay, schedules)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from tasks.notifications import store
from tasks.notifications.catalog import DeliverPayload
from tasks.notifications.channels import parse_config
from tasks.notifications.sending import deliver
from tasks.notifications.template_store import create_template
from tasks.notifications.templates import TemplateSpec
from tests.support import hostile
from tests.support.api import Headers, api_client, assert_error, issue_keys
from tests.support.channels import webhook_channels
from tests.support.sinks import SINK_SECRET, HttpSink
from workers.store.engine import session_scope
from workers.store.models import Job
from workers.store.types import utcnow

SCOPES = {
    "admin": ["admin"],
    "sender": ["notifications:write"],
    "ops": ["notifications:write:ops-*"],
    "reader": ["notifications:read"],
    "jobs": ["jobs:write", "jobs:read"],
}


WELCOME = TemplateSpec("welcome", "Hello {{ name }}", "Dear {{ name }}",
                       sample_data={"name": "Ada"}, default_channels=("ops-hook",))  # fmt: skip
pytestmark = pytest.mark.usefixtures("fresh_sink")


@pytest.fixture(scope="module")
def channels(sink: HttpSink) -> Iterator[None]:
    with webhook_channels(sink, "ops-hook", "ops-pager", "billing",
                          TASKYARD_NOTIFY_MAX_ATTEMPTS="2"):  # fmt: skip
        create_template(WELCOME)
        yield


@pytest.fixture(scope="module")
def keys(channels: None) -> dict[str, Headers]:
    return issue_keys(SCOPES, prefix="notify-")


@pytest.fixture(scope="module")
def client(channels: None) -> Iterator[TestClient]:
    with api_client() as test_client:
        yield test_client


def _send(client: TestClient, headers: Headers, **body: Any) -> Any:
    return client.post("/v1/notifications", json={"subject": "s", "text": "t", **body},
                       headers=headers)  # fmt: skip


def _one_delivery(client: TestClient, headers: Headers, channel: str = "ops-hook") -> str:
    response = _send(client, headers, channels=[channel])
    assert response.status_code == 202, response.text
    (delivery,) = response.json()["deliveries"]
    return str(delivery["id"])


def _run(delivery_id: str) -> dict[str, Any]:
    """One run of the delivery's job, in this process (as a worker would run it)."""
    return deliver(DeliverPayload(delivery_id=delivery_id))


def _failed(client: TestClient, headers: Headers, sink: HttpSink, channel: str = "ops-hook") -> str:
    """A delivery the sink refused for good (a 400 fails it at once)."""
    delivery_id = _one_delivery(client, headers, channel)
    sink.answer = "400"
    try:
        assert _run(delivery_id)["status"] == "failed"
    finally:
        sink.answer = "ok"
    return delivery_id


def _job_state(job_id: str) -> tuple[str, uuid.UUID | None]:
    """The job's stored status, and the job that replayed it (``None``: not replayed)."""
    with session_scope() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        return job.status, job.replayed_by


def _set_job_status(job_id: str, status: str) -> None:
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id == uuid.UUID(job_id))
            .values(status=status, finished_at=utcnow())
        )


# -- sending -----------------------------------------------------------------------------------


def test_a_notification_makes_one_delivery_per_channel_and_reads_back(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    response = _send(client, keys["sender"], channels="ops-*", priority=7, queue="high")

    assert response.status_code == 202, response.text
    body = response.json()
    notification = body["notification"]
    assert (notification["subject"], notification["queue"], notification["priority"]) == (
        "s", "high", 7)  # fmt: skip
    assert notification["source"] == "api"
    assert [d["channel"] for d in body["deliveries"]] == ["ops-hook", "ops-pager"]
    assert {d["status"] for d in body["deliveries"]} == {"queued"}
    assert "claim_token" not in body["deliveries"][0]
    first = body["deliveries"][0]
    shown = client.get(f"/v1/deliveries/{first['id']}", headers=keys["reader"])
    assert shown.status_code == 200, shown.text
    assert shown.json() == first
    for name in ("attempts", "last_error", "error_class", "status_code", "provider_message_id",
                 "maybe_delivered", "sending_at", "sent_at", "finished_at", "duration_ms",
                 "replay_of", "replayed_by", "job_id", "message_key"):  # fmt: skip
        assert name in first
    with session_scope() as session:
        job = session.get(Job, uuid.UUID(first["job_id"]))
        assert job is not None
        assert (job.type, job.queue, job.priority) == ("notify.deliver", "high", 7)


def test_a_template_goes_to_its_default_channels_and_is_sent_as_rendered(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    body = {"template": "welcome", "data": {"name": "Grace"}}
    response = client.post("/v1/notifications", json=body, headers=keys["sender"])

    assert response.status_code == 202, response.text
    (delivery,) = response.json()["deliveries"]
    assert delivery["channel"] == "ops-hook"
    assert _run(delivery["id"])["status"] == "sent"
    sent = client.get(f"/v1/deliveries/{delivery['id']}", headers=keys["reader"]).json()
    assert (sent["status"], sent["attempts"], sent["status_code"]) == ("sent", 1, 200)
    assert sent["sent_at"] is not None
    assert sent["duration_ms"] is not None
    assert [r.path for r in sink.received] == ["/ops-hook"]


def test_an_idempotency_key_in_the_body_or_the_header_returns_the_same_notification(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    sender = keys["sender"]
    first = _send(client, {**sender, "Idempotency-Key": "n-1"}, channels=["billing"])
    again = _send(client, sender, channels=["billing"], idempotency_key="n-1")
    other = _send(client, sender, channels=["billing"], text="other", idempotency_key="n-1")
    disagree = _send(client, {**sender, "Idempotency-Key": "n-2"}, channels=["billing"],
                     idempotency_key="n-3")  # fmt: skip

    assert first.status_code == 202, first.text
    assert "Taskyard-Deduplicated" not in first.headers
    assert again.status_code == 200, again.text
    assert again.headers["Taskyard-Deduplicated"] == "true"
    assert again.json()["notification"]["id"] == first.json()["notification"]["id"]
    assert again.json()["deliveries"] == first.json()["deliveries"]
    assert first.json()["notification"]["idempotency_key"] == "n-1"
    error = assert_error(other, 409, "idempotency_conflict")
    assert "n-1" in error["message"]
    assert_error(disagree, 422, "validation_error", "header.Idempotency-Key")


def test_keys_are_per_api_key(client: TestClient, keys: dict[str, Headers]) -> None:
    mine = _send(client, keys["sender"], channels=["ops-hook"], idempotency_key="shared")
    theirs = _send(client, keys["admin"], channels=["ops-hook"], idempotency_key="shared")

    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["notification"]["id"] != theirs.json()["notification"]["id"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"channels": [1], "subject": "s", "text": "t"}, "validation_error", ""),
        ({"channels": ["nope"], "subject": "s", "text": "t"}, "invalid_notification", "channels"),
        ({"channels": "zz-*", "subject": "s", "text": "t"}, "invalid_notification", "channels"),
        ({"channels": ["ops-hook"], "template": "welcome", "subject": "s"},
         "invalid_notification", "template"),
        ({"channels": ["ops-hook"], "template": "missing"}, "invalid_notification", "template"),
        ({"channels": ["ops-hook"], "subject": "two\nlines", "text": "t"},
         "invalid_notification", "subject"),
        ({"channels": ["ops-hook"], "subject": "s", "text": "t", "digest_key": "d"},
         "invalid_notification", "digest_key"),
        ({"channels": ["ops-hook"], "subject": "s", "text": "t", "delay_s": 5,
          "run_at": "2030-01-01T00:00:00Z"}, "invalid_notification", ""),
        ({"subject": "s", "text": "t"}, "invalid_notification", "channels"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_with_the_field_named(
    client: TestClient, keys: dict[str, Headers], body: dict[str, Any], code: str, field: str
) -> None:
    response = client.post("/v1/notifications", json=body, headers=keys["sender"])

    assert_error(response, 422, code, field)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("colour", "red"),
        ("priority", "5"),
        ("priority", 10),
        ("delay_s", "1"),
        ("queue", "urgent"),
        ("digest_window_s", 1.5),
    ],
)
def test_a_malformed_or_unknown_field_is_refused_by_name(
    client: TestClient, keys: dict[str, Headers], field: str, value: Any
) -> None:
    response = _send(client, keys["sender"], channels=["ops-hook"], **{field: value})

    assert_error(response, 422, "validation_error", f"body.{field}")


# -- scopes ------------------------------------------------------------------------------------


def test_a_narrowed_key_sends_only_to_the_channels_its_glob_matches(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    ops = keys["ops"]

    allowed = _send(client, ops, channels=["ops-hook", "ops-pager"])
    refused = _send(client, ops, channels=["billing"])
    mixed = _send(client, ops, channels=["ops-hook", "billing"])
    everything = _send(client, ops, channels="*")
    unknown = _send(client, ops, channels=["billing-eu"])  # refused before its existence is told

    assert allowed.status_code == 202, allowed.text
    error = assert_error(unknown, 403, "forbidden")
    assert error["details"]["scope"] == "notifications:write:billing-eu"
    for response in (refused, mixed, everything):
        error = assert_error(response, 403, "forbidden")
        assert error["details"]["scope"] == "notifications:write:billing"
        assert "'billing'" in error["message"]
    listed = client.get("/v1/deliveries?channel=billing", headers=keys["reader"]).json()
    assert not [d for d in listed["items"] if d["notification_id"] in _ids(refused, mixed)]


def _ids(*responses: Any) -> set[str]:
    return {str(r.json().get("notification", {}).get("id")) for r in responses}


def test_a_jobs_key_cannot_send_notifications_or_read_deliveries(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    jobs = keys["jobs"]

    error = assert_error(_send(client, jobs, channels=["ops-hook"]), 403, "forbidden")
    assert error["details"]["scope"] == "notifications:write"
    error = assert_error(client.get("/v1/deliveries", headers=jobs), 403, "forbidden")
    assert error["details"]["scope"] == "notifications:read"
    assert_error(_send(client, {}, channels=["ops-hook"]), 401, "unauthorized")


def test_sending_and_reading_are_separate_scopes(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    delivery_id = _one_delivery(client, keys["sender"])

    assert_error(client.get("/v1/deliveries", headers=keys["sender"]), 403, "forbidden")
    assert_error(client.get(f"/v1/deliveries/{delivery_id}", headers=keys["sender"]), 403,
                 "forbidden")  # fmt: skip
    assert_error(_send(client, keys["reader"], channels=["ops-hook"]), 403, "forbidden")
    assert_error(client.post(f"/v1/deliveries/{delivery_id}/cancel", headers=keys["reader"]),
                 403, "forbidden")  # fmt: skip
    assert client.get(f"/v1/deliveries/{delivery_id}", headers=keys["admin"]).status_code == 200


def test_channels_and_templates_stay_admin_only(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    for path in ("/v1/channels", "/v1/templates"):
        for name in ("sender", "reader", "ops"):
            assert_error(client.get(path, headers=keys[name]), 403, "forbidden")


# -- deliveries --------------------------------------------------------------------------------


def test_deliveries_come_a_page_at_a_time_and_filter(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    reader = keys["reader"]
    made = _send(client, keys["sender"], channels=["ops-hook", "ops-pager", "billing"]).json()
    notification_id = made["notification"]["id"]
    since = made["notification"]["created_at"]

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"notification_id": notification_id, "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/v1/deliveries", params=params, headers=reader)
        assert page.status_code == 200, page.text
        seen.extend(item["channel"] for item in page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["billing", "ops-hook", "ops-pager"]

    billing = {"channel": "billing", "created_after": since}
    by_channel = client.get("/v1/deliveries", params=billing, headers=reader).json()
    assert {d["channel"] for d in by_channel["items"]} == {"billing"}
    assert notification_id in {d["notification_id"] for d in by_channel["items"]}
    before = client.get("/v1/deliveries", headers=reader,
                        params={"notification_id": notification_id,
                                "created_before": "2000-01-01T00:00:00Z"}).json()  # fmt: skip
    assert before["items"] == []
    waiting = {"status": "queued", "notification_id": notification_id}
    queued = client.get("/v1/deliveries", params=waiting, headers=reader).json()
    assert len(queued["items"]) == 3
    for bad in ("status=lost", "channel=a%20b", "created_after=yesterday", "cursor=zzz",
                "notification_id=7", "chanel=billing", "limit=0"):  # fmt: skip
        assert_error(client.get(f"/v1/deliveries?{bad}", headers=reader), 422, "validation_error")


def test_an_unknown_delivery_is_a_404(client: TestClient, keys: dict[str, Headers]) -> None:
    for path in (f"/v1/deliveries/{uuid.uuid4()}", "/v1/deliveries/nope"):
        assert_error(client.get(path, headers=keys["reader"]), 404, "delivery_not_found")
    for verb in ("replay", "cancel"):
        assert_error(client.post(f"/v1/deliveries/{uuid.uuid4()}/{verb}", headers=keys["admin"]),
                     404, "delivery_not_found")  # fmt: skip


def test_a_failed_delivery_replays_once_as_a_new_delivery_that_is_sent(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    sender, reader = keys["sender"], keys["reader"]
    original_id = _failed(client, sender, sink)
    original = client.get(f"/v1/deliveries/{original_id}", headers=reader).json()
    assert (original["status"], original["error_class"], original["status_code"]) == (
        "failed", "permanent", 400)  # fmt: skip
    assert original["last_error"]

    replayed = client.post(f"/v1/deliveries/{original_id}/replay", headers=sender)

    assert replayed.status_code == 202, replayed.text
    new = replayed.json()
    assert (new["status"], new["replay_of"], new["attempts"]) == ("queued", original_id, 0)
    assert new["id"] != original_id
    assert (new["notification_id"], new["channel"]) == (original["notification_id"], "ops-hook")
    assert new["job_id"] != original["job_id"]
    assert new["message_key"] == original["message_key"]  # the receiver can tell a repeat
    after = client.get(f"/v1/deliveries/{original_id}", headers=reader).json()
    assert (after["status"], after["replayed_by"]) == ("failed", new["id"])
    error = assert_error(client.post(f"/v1/deliveries/{original_id}/replay", headers=sender),
                         409, "delivery_state_conflict")  # fmt: skip
    assert new["id"] in error["message"]
    assert _run(new["id"])["status"] == "sent"
    assert [r.headers["Idempotency-Key"] for r in sink.received] == [original["message_key"]] * 2


def test_only_a_finished_unsent_delivery_replays(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    sender = keys["sender"]
    queued = _one_delivery(client, sender)
    sent = _one_delivery(client, sender)
    _run(sent)

    for delivery_id, status in ((queued, "queued"), (sent, "sent")):
        error = assert_error(client.post(f"/v1/deliveries/{delivery_id}/replay", headers=sender),
                             409, "delivery_state_conflict")  # fmt: skip
        assert status in error["message"]
    keyed = {**sender, "Idempotency-Key": "r-1"}
    assert_error(client.post(f"/v1/deliveries/{queued}/replay", headers=keyed), 422,
                 "validation_error", "header.Idempotency-Key")  # fmt: skip


def test_a_waiting_delivery_cancels_and_a_cancelled_one_replays(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    sender = keys["sender"]
    delivery_id = _one_delivery(client, sender)

    cancelled = client.post(f"/v1/deliveries/{delivery_id}/cancel", headers=sender)

    assert cancelled.status_code == 202, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["error_class"]) == (
        "cancelled", "cancelled")  # fmt: skip
    assert "skipped" in _run(delivery_id)  # its job finds nothing to send
    assert sink.received == []
    error = assert_error(client.post(f"/v1/deliveries/{delivery_id}/cancel", headers=sender),
                         409, "delivery_state_conflict")  # fmt: skip
    assert "cancelled" in error["message"]
    replayed = client.post(f"/v1/deliveries/{delivery_id}/replay", headers=sender)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["replay_of"] == delivery_id


def test_a_cancelled_digest_replays_with_its_members_and_is_no_open_digest(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    sender = keys["sender"]
    digest = {"channels": ["ops-pager"], "digest_key": "nightly", "digest_window_s": 600}
    made = [_send(client, sender, subject=f"s{n}", **digest).json() for n in range(2)]
    (digest_id,) = {d["id"] for sent in made for d in sent["deliveries"]}
    assert client.post(f"/v1/deliveries/{digest_id}/cancel", headers=sender).status_code == 202

    new = client.post(f"/v1/deliveries/{digest_id}/replay", headers=sender).json()
    later = _send(client, sender, subject="s2", **digest).json()

    assert (new["status"], new["digest_key"]) == ("queued", None)
    assert later["deliveries"][0]["id"] != new["id"]  # a later one opens a digest of its own
    assert _run(new["id"])["status"] == "sent"
    (received,) = sink.received
    assert json.loads(received.body)["subject"] == "2 notifications: s0"


def test_replaying_or_cancelling_needs_the_scope_for_the_delivery_s_channel(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    ops = keys["ops"]
    billing_failed = _failed(client, keys["admin"], sink, "billing")
    billing_waiting = _one_delivery(client, keys["admin"], "billing")
    ops_failed = _failed(client, ops, sink, "ops-pager")

    for path in (f"/v1/deliveries/{billing_failed}/replay",
                 f"/v1/deliveries/{billing_waiting}/cancel"):  # fmt: skip
        error = assert_error(client.post(path, headers=ops), 403, "forbidden")
        assert error["details"]["scope"] == "notifications:write:billing"
    assert client.post(f"/v1/deliveries/{ops_failed}/replay", headers=ops).status_code == 202
    assert_error(client.post(f"/v1/deliveries/{ops_failed}/replay", headers=keys["jobs"]), 403,
                 "forbidden")  # fmt: skip


def test_a_delivery_whose_channel_was_removed_does_not_replay(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    config = {"kind": "webhook", "url": f"{sink.url}/gone", "secret": SINK_SECRET}
    channel = store.create_channel("ops-gone", parse_config(config))
    delivery_id = _failed(client, keys["sender"], sink, "ops-gone")
    store.delete_channel(channel.id)

    replayed = client.post(f"/v1/deliveries/{delivery_id}/replay", headers=keys["sender"])

    error = assert_error(replayed, 409, "delivery_state_conflict")

    assert "no longer exists" in error["message"]
    shown = client.get(f"/v1/deliveries/{delivery_id}", headers=keys["reader"]).json()
    assert (shown["channel"], shown["channel_id"], shown["replayed_by"]) == ("ops-gone", None, None)


# -- the internal job type ---------------------------------------------------------------------


def test_a_jobs_key_cannot_enqueue_the_delivery_job_type(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    job = {"type": "notify.deliver", "payload": {"delivery_id": str(uuid.uuid4())}}

    error = assert_error(client.post("/v1/jobs", json=job, headers=keys["jobs"]), 403,
                         "internal_job_type")  # fmt: skip
    batch = client.post("/v1/jobs/batch", json={"jobs": [job, {"type": "diag.noop"}]},
                        headers=keys["jobs"])  # fmt: skip

    assert "POST /v1/notifications" in error["message"]
    assert batch.status_code == 202, batch.text
    refused, accepted = batch.json()["results"]
    assert refused["error"]["code"] == "internal_job_type"
    assert accepted["job"]["type"] == "diag.noop"
    assert batch.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("action", "status", "said"),
    [
        ("replay", "failed", "notify.deliver"),
        ("replay", "dead", "notify.deliver"),
        ("replay", "cancelled", "notify.deliver"),
        ("cancel", None, "deliveries cancel"),
    ],
)
def test_a_delivery_job_is_neither_replayed_nor_cancelled_through_the_jobs_api(
    client: TestClient, keys: dict[str, Headers], action: str, status: str | None, said: str
) -> None:
    delivery = _send(client, keys["sender"], channels=["ops-hook"]).json()["deliveries"][0]
    if status is not None:
        _set_job_status(delivery["job_id"], status)
    before = _job_state(delivery["job_id"])

    error = assert_error(client.post(f"/v1/jobs/{delivery['job_id']}/{action}",
                                     headers=keys["jobs"]), 403, "internal_job_type")  # fmt: skip

    assert said in error["message"]
    assert _job_state(delivery["job_id"]) == (before[0], None)  # not cancelled, not replayed


def test_a_dead_delivery_job_is_reported_not_replayed_by_the_dead_letter_replay(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    delivery = _send(client, keys["sender"], channels=["ops-pager"]).json()["deliveries"][0]
    _set_job_status(delivery["job_id"], "dead")

    report = client.post("/v1/dead-letters/replay", json={"type": "notify.deliver"},
                         headers=keys["admin"])  # fmt: skip

    assert report.status_code == 202, report.text
    assert report.json()["replayed"] == 0
    errors = {e["job_id"]: e["message"] for e in report.json()["errors"]}
    assert "internal" in errors[delivery["job_id"]]


def test_a_schedule_cannot_fire_the_delivery_job_type(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    body = {"name": "sneaky", "task": "notify.deliver", "interval_s": 60,
            "payload": {"delivery_id": str(uuid.uuid4())}}  # fmt: skip

    error = assert_error(client.post("/v1/schedules", json=body, headers=keys["admin"]), 422,
                         "invalid_schedule", "task")  # fmt: skip

    assert "internal" in error["message"]


# -- hostile input -----------------------------------------------------------------------------


def _or_fine(bad: st.SearchStrategy[Any], *fine: Any) -> st.SearchStrategy[Any]:
    return st.one_of(bad, st.sampled_from(fine))


NOTIFICATION_BODIES = st.builds(
    lambda channels, rest: {"channels": channels, "subject": "s", "text": "t", **rest},
    _or_fine(hostile.BAD_TEXT, ["ops-hook"], "ops-*"),
    hostile.some_of(
        subject=_or_fine(hostile.BAD_TEXT, "s"), text=_or_fine(hostile.BAD_TEXT, "t"),
        html=_or_fine(hostile.BAD_TEXT, "<p>t</p>"), data=hostile.DOCUMENTS,
        idempotency_key=_or_fine(hostile.BAD_TEXT, "k"),
        digest_key=_or_fine(hostile.BAD_TEXT, "d"),
        digest_window_s=_or_fine(hostile.HUGE_NUMBERS, 60),
        priority=_or_fine(hostile.HUGE_NUMBERS, 0, 9),
        delay_s=_or_fine(hostile.HUGE_NUMBERS, 0, 0.5),
        run_at=_or_fine(hostile.TIMESTAMPS, "2020-01-01T00:00:00Z"),
    ),
)  # fmt: skip
DELIVERY_QUERIES = hostile.some_of(
    status=st.sampled_from(["queued", "sent"]), channel=hostile.ARGUMENT_TEXT,
    cursor=hostile.CURSORS, created_after=hostile.TIMESTAMPS.filter(str.isascii),
    created_before=hostile.TIMESTAMPS.filter(str.isascii), limit=hostile.HUGE_NUMBERS.map(str),
)  # fmt: skip


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=NOTIFICATION_BODIES, query=DELIVERY_QUERIES)
def test_no_hostile_request_gets_a_server_error_or_stores_what_cannot_be_read(
    client: TestClient, keys: dict[str, Headers], body: dict[str, Any], query: dict[str, Any]
) -> None:
    # Given text no store takes, huge numbers, deep documents and extreme times
    as_python = {**keys["admin"], "Content-Type": "application/json"}  # NaN, lone surrogates
    sent = client.post("/v1/notifications", content=json.dumps(body), headers=as_python)
    listed = client.get("/v1/deliveries", params=query, headers=keys["admin"])

    # Then a 4xx in the one shape, or a notification whose deliveries read back
    for response in (sent, listed):
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert_error(response, response.status_code, response.json()["error"]["code"])
    if sent.status_code < 400:
        for delivery in sent.json()["deliveries"]:
            read = client.get(f"/v1/deliveries/{delivery['id']}", headers=keys["reader"])
            assert read.status_code == 200, read.text
