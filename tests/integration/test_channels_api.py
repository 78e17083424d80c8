"""``/v1/channels`` on both stores: CRUD, cursor pages, scopes, errors in the one shape, the
test endpoint against a real sink, secrets write-only (responses, logs), sealed at rest and
rotated."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasks.notifications import store
from tasks.notifications.sealing import new_key
from tests.support.api import Headers, api_client, assert_error, issue_keys
from tests.support.channels import DATA_KEY, raw_row, use_keys
from tests.support.sinks import HttpSink, http_sink

HOOK_SECRET = "whsec-api-0123456789abcdef"
SLACK_TOKEN = "/services/TAPI/BAPI/slackapitoken99"
APPRISE_TOKEN = "/apprise/apitoken55"
SMTP_PASSWORD = "smtp-api-pw-s3cr3t"
SECRETS = (HOOK_SECRET, "slackapitoken99", "apitoken55", SMTP_PASSWORD)
FIRST_KEY = DATA_KEY


@pytest.fixture(scope="module")
def settings(sealing: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return sealing


@pytest.fixture(scope="module")
def keys(settings: pytest.MonkeyPatch) -> dict[str, Headers]:
    return issue_keys({"admin": ["admin"], "reader": ["jobs:read"]}, prefix="chan-")


@pytest.fixture(scope="module")
def client(settings: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with api_client() as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpSink]:
    with http_sink(HOOK_SECRET) as running:
        yield running


@pytest.fixture(scope="module")
def plain_sink() -> Iterator[HttpSink]:
    with http_sink() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_sinks(sink: HttpSink, plain_sink: HttpSink) -> None:
    for each in (sink, plain_sink):
        each.answer = "ok"
        each.received.clear()
        each.refused.clear()


def webhook(name: str, sink: HttpSink, **extra: Any) -> dict[str, Any]:
    config = {"kind": "webhook", "url": f"{sink.url}/hook", "secret": HOOK_SECRET}
    return {"name": name, "config": config, **extra}


def test_an_admin_creates_reads_edits_tests_and_removes_a_channel(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    admin = keys["admin"]

    created = client.post(
        "/v1/channels", json=webhook("hooks", sink, description="CI"), headers=admin
    )
    assert created.status_code == 201, created.text
    channel = created.json()
    assert (channel["name"], channel["kind"], channel["description"]) == ("hooks", "webhook", "CI")
    assert channel["config"] == {"url": f"{sink.url}/hook", "rate_limit": None,
                                 "idempotent": False}  # fmt: skip
    assert (channel["secrets"], channel["secrets_sealed"]) == (["secret"], True)
    assert client.get(f"/v1/channels/{channel['id']}", headers=admin).json() == channel

    change = {"name": "hooks-2", "config": {"url": f"{sink.url}/v2"}}
    edited = client.patch(f"/v1/channels/{channel['id']}", json=change, headers=admin)
    assert edited.status_code == 200, edited.text
    assert edited.json()["config"]["url"] == f"{sink.url}/v2"
    tested = client.post(f"/v1/channels/{channel['id']}/test", headers=admin)
    assert tested.status_code == 200, tested.text
    assert (tested.json()["ok"], tested.json()["status_code"]) == (True, 200)
    [request] = sink.received  # signed with the secret kept across the edit
    assert request.path == "/v2"
    assert json.loads(request.body)["channel"] == "hooks-2"

    assert client.delete(f"/v1/channels/{channel['id']}", headers=admin).status_code == 204
    assert_error(client.get(f"/v1/channels/{channel['id']}", headers=admin), 404,
                 "channel_not_found")  # fmt: skip


def test_a_channel_keeps_a_rate_limit_and_whether_it_is_idempotent(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    admin = keys["admin"]
    body = webhook("limited", sink)
    body["config"] |= {"rate_limit": "20/second", "idempotent": True}

    created = client.post("/v1/channels", json=body, headers=admin)
    assert created.status_code == 201, created.text
    path = f"/v1/channels/{created.json()['id']}"
    assert created.json()["config"]["rate_limit"] == "20/second"
    assert created.json()["config"]["idempotent"] is True

    lifted = client.patch(path, json={"config": {"rate_limit": None}}, headers=admin)
    assert lifted.json()["config"]["rate_limit"] is None
    assert lifted.json()["config"]["idempotent"] is True
    body = webhook("badly-limited", sink)
    body["config"] |= {"rate_limit": "lots"}
    error = assert_error(client.post("/v1/channels", json=body, headers=admin), 422,
                         "validation_error")  # fmt: skip
    assert "is not a rate limit" in json.dumps(error["details"])
    stopped = client.patch(path, json={"config": {"rate_limit": "0/second"}}, headers=admin)
    error = assert_error(stopped, 422, "invalid_channel")
    [detail] = error["details"]
    assert detail["field"] == "config.rate_limit"
    assert detail["message"].startswith("'0/second' is not a rate limit")


@pytest.mark.parametrize(("answer", "error_class"), [("500", "retryable"), ("400", "permanent")])
def test_a_failed_test_message_is_a_502_that_says_what_next(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink, answer: str, error_class: str
) -> None:
    name = f"hooks-{answer}"
    channel = client.post("/v1/channels", json=webhook(name, sink), headers=keys["admin"]).json()
    sink.answer = answer

    response = client.post(f"/v1/channels/{channel['id']}/test", headers=keys["admin"])

    error = assert_error(response, 502, "channel_test_failed")
    assert f"HTTP {answer}" in error["message"]
    assert "test again" in error["message"]
    assert (error["details"]["error_class"], error["details"]["status_code"]) == (
        error_class, int(answer))  # fmt: skip


@pytest.mark.parametrize(
    ("url", "kind"),
    [("http://169.254.169.254/latest/", "cloud metadata"), ("http://10.1.1.1/", "private"),
     ("http://[fd00:ec2::254]/", "cloud metadata"), ("http://169.254.9.9/", "link-local")],
)  # fmt: skip
def test_a_refused_target_is_a_422_naming_the_setting(
    client: TestClient, keys: dict[str, Headers], url: str, kind: str
) -> None:
    body = {"name": "inside", "config": {"kind": "webhook", "url": url, "secret": HOOK_SECRET}}

    error = assert_error(client.post("/v1/channels", json=body, headers=keys["admin"]), 422,
                         "outbound_refused")  # fmt: skip

    assert f"a {kind} address" in error["message"]
    assert "TASKYARD_OUTBOUND_ALLOW" in error["message"]


def test_bad_input_gets_the_error_shape(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    admin = keys["admin"]
    channel = client.post("/v1/channels", json=webhook("taken", sink), headers=admin).json()
    path = f"/v1/channels/{channel['id']}"

    assert_error(client.post("/v1/channels", json=webhook("taken", sink), headers=admin), 409,
                 "channel_conflict")  # fmt: skip
    for bad in (webhook("a b", sink), {"name": "x", "config": {"kind": "pager"}}):
        assert_error(client.post("/v1/channels", json=bad, headers=admin), 422, "validation_error")
    nul = webhook("nul", sink, description="x\x00y")
    assert_error(client.post("/v1/channels", json=nul, headers=admin), 422, "invalid_channel")
    assert_error(client.patch(path, json={"config": {"kind": "slack"}}, headers=admin), 422,
                 "invalid_channel")  # fmt: skip
    assert_error(client.patch(path, json={"config": {"secret": "short"}}, headers=admin), 422,
                 "invalid_channel")  # fmt: skip
    assert_error(client.patch(path, json={"name": None}, headers=admin), 422, "validation_error")
    inward = {"config": {"url": "http://10.0.0.5/hook"}}
    assert_error(client.patch(path, json=inward, headers=admin), 422, "outbound_refused")
    assert_error(client.get("/v1/channels/nope", headers=admin), 404, "channel_not_found")
    assert_error(client.get("/v1/channels?cursor=zzz", headers=admin), 422, "validation_error")


def test_every_operation_needs_admin(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    reader = keys["reader"]

    assert_error(client.get("/v1/channels", headers=reader), 403, "forbidden")
    assert_error(client.post("/v1/channels", json=webhook("r", sink), headers=reader), 403,
                 "forbidden")  # fmt: skip
    assert_error(client.get("/v1/channels"), 401, "unauthorized")


def test_channels_come_a_page_at_a_time(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    admin = keys["admin"]
    for index in range(3):
        client.post("/v1/channels", json=webhook(f"page-{index}", sink), headers=admin)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/channels", params=params, headers=admin).json()
        seen.extend(item["name"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen))
    assert {"page-0", "page-1", "page-2"} <= set(seen)
    assert seen.index("page-2") < seen.index("page-0")  # newest first


def test_secrets_are_write_only_and_sealed_at_rest(
    client: TestClient,
    keys: dict[str, Headers],
    sink: HttpSink,
    plain_sink: HttpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = keys["admin"]
    port = plain_sink.url.rsplit(":", 1)[1]
    bodies: list[dict[str, Any]] = [
        {"name": "w-secret", "config": {"kind": "webhook", "url": f"{sink.url}/h",
                                        "secret": HOOK_SECRET}},
        {"name": "s-secret", "config": {"kind": "slack", "url": f"{plain_sink.url}{SLACK_TOKEN}"}},
        {"name": "a-secret", "config": {"kind": "apprise",
                                        "url": f"json://127.0.0.1:{port}{APPRISE_TOKEN}"}},
        {"name": "e-secret", "config": {"kind": "email", "host": "127.0.0.1", "port": 1,
                                        "security": "none", "username": "u",
                                        "password": SMTP_PASSWORD, "sender": "a@example.com",
                                        "recipients": ["b@example.com"]}},
    ]  # fmt: skip
    texts = []
    for body in bodies:
        created = client.post("/v1/channels", json=body, headers=admin)
        assert created.status_code == 201, created.text
        texts.append(created.text)
        texts.append(client.post(f"/v1/channels/{created.json()['id']}/test", headers=admin).text)
        _, stored, sealed = raw_row(body["name"])
        assert sealed
        assert not any(secret in stored for secret in SECRETS)
    bad_slack = {"name": "bad", "config": {"kind": "slack", "url": "ftp:/slackapitoken99"}}
    texts.append(client.post("/v1/channels", json=bad_slack, headers=admin).text)
    texts.append(client.get("/v1/channels", headers=admin).text)
    logged = "\n".join(record.getMessage() for record in caplog.records)

    for secret in SECRETS:
        assert secret not in "\n".join(texts)
        assert secret not in logged
    # Webhook, Slack and Apprise delivered; nothing listens for the email.
    assert (len(sink.received), len(plain_sink.received)) == (1, 2)


def test_a_key_rotates_by_rekeying(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink, settings: pytest.MonkeyPatch
) -> None:
    admin = keys["admin"]
    channel = client.post("/v1/channels", json=webhook("rotating", sink), headers=admin).json()
    _, before, _ = raw_row("rotating")
    second = new_key()

    use_keys(settings, second, FIRST_KEY)
    report = store.rekey()
    use_keys(settings, second)
    try:
        tested = client.post(f"/v1/channels/{channel['id']}/test", headers=admin)
        _, after, sealed = raw_row("rotating")
        stranger = new_key()
        use_keys(settings, stranger)
        unreadable = client.post(f"/v1/channels/{channel['id']}/test", headers=admin)
    finally:
        use_keys(settings, FIRST_KEY, second)

    assert report.resealed >= 1
    assert tested.status_code == 200, tested.text  # opened with the new key alone
    error = assert_error(unreadable, 503, "channel_secrets_unreadable")
    assert "TASKYARD_SECRET_KEYS" in error["message"]
    assert stranger not in unreadable.text
    assert sealed
    assert after != before
    assert sink.refused == []


def test_without_a_key_secrets_are_plain_until_a_rekey_seals_them(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink, settings: pytest.MonkeyPatch
) -> None:
    configured = os.environ["TASKYARD_SECRET_KEYS"].split(",")
    use_keys(settings)
    try:
        created = client.post("/v1/channels", json=webhook("plain", sink), headers=keys["admin"])
    finally:
        use_keys(settings, *configured)
    assert created.status_code == 201, created.text
    assert created.json()["secrets_sealed"] is False
    assert HOOK_SECRET in raw_row("plain")[1]

    report = store.rekey()

    assert report.were_plain == 1
    _, stored, sealed = raw_row("plain")
    assert sealed
    assert HOOK_SECRET not in stored
    tested = client.post(f"/v1/channels/{created.json()['id']}/test", headers=keys["admin"])
    assert tested.status_code == 200, tested.text
