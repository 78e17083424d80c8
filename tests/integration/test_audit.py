"""The audit trail on both stores: every administrative action class writes one row with its
actor, action and target in the transaction of the change (a refused change writes none),
secrets never reach a summary, and ``GET /v1/audit`` and ``taskyard audit`` read it (admin
only, cursor pages, filters); retention is the only thing that removes rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from schedules.catalog import STATIC_ENTRIES
from schedules.errors import ScheduleConflict
from schedules.store import find_schedule, sync_static, update_schedule
from tasks.alerts import route_store, rule_store
from tasks.alerts.rules import Op, RuleSpec, SourceKind
from tasks.maintenance.purge import purge, purge_records
from tasks.maintenance.runs import run_by_hand
from tasks.notifications import store as channels
from tasks.notifications import template_store
from tasks.notifications.channels import parse_config
from tasks.notifications.errors import InvalidTemplate
from tasks.notifications.templates import TemplateSpec
from tests.support.api import Headers, assert_error, issue_keys
from tests.support.channels import channel_settings
from tests.support.cli import run
from workers.errors import ApiKeyError
from workers.store import audit, control, keys
from workers.store.engine import session_scope
from workers.store.jobs import JobFilter
from workers.store.models import AuditEntry, Job, JobStatus
from workers.store.types import utcnow

SCOPES = {"admin": ["admin"], "reader": ["jobs:read"], "writer": ["jobs:write"]}
HOOK_SECRET = "hook-secret-" + "s" * 20


@pytest.fixture(scope="module")
def keys_(runtime: dict[str, str]) -> Iterator[dict[str, Headers]]:
    sync_static(STATIC_ENTRIES)  # as beat does on start: not an operator's action
    with channel_settings():
        yield issue_keys(SCOPES, prefix="audit-")


def _trail(**filters: Any) -> list[AuditEntry]:
    return audit.entries(500, **filters)


def _named(name: str, **filters: Any) -> list[AuditEntry]:
    return [row for row in _trail(**filters) if row.target_name == name]


def _only(**filters: Any) -> AuditEntry:
    rows = _trail(**filters)
    assert len(rows) == 1, [(r.action, r.target_name, r.target_id) for r in rows]
    return rows[0]


def _text(rows: list[AuditEntry]) -> str:
    return json.dumps([[r.before, r.after] for r in rows], default=str)


def test_keys_are_audited_as_the_os_user_and_never_show_the_secret_or_hash(
    keys_: dict[str, Headers],
) -> None:
    # Given a key made outside any request (as the CLI does)
    issued = keys.create_key("audit-ops", ["jobs:read"])
    [created] = _named("audit-ops", action="key.created", actor=audit.os_actor())
    # Then the row names the OS user@host, the key by id and name, and its scopes
    assert (created.target_id, created.target_name) == (str(issued.record.id), "audit-ops")
    assert created.after is not None
    assert created.after["scopes"] == ["jobs:read"]
    # When a name in use is refused, no row is written
    with pytest.raises(ApiKeyError):
        keys.create_key("audit-ops", [])
    # When it is revoked (twice: the second changes nothing)
    keys.revoke_key("audit-ops")
    keys.revoke_key("audit-ops")
    revoked = _only(action="key.revoked")
    assert revoked.before == {"revoked_at": None}
    assert revoked.after is not None
    assert revoked.after["revoked_at"]
    # Then neither the secret nor its hash is anywhere in the trail
    everything = _text(_trail(target_kind="key"))
    assert issued.secret not in everything
    assert keys.hash_key(issued.secret) not in everything
    assert "key_hash" not in everything
    assert len(_named("audit-ops")) == 2


def test_schedule_changes_through_the_api_name_the_key_and_the_request(
    client: TestClient, keys_: dict[str, Headers]
) -> None:
    admin = keys_["admin"]
    body = {"name": "audit-nightly", "task": "diag.noop", "cron": "0 3 * * *"}
    created = client.post("/v1/schedules", json=body, headers=admin)
    assert created.status_code == 201, created.text
    url = f"/v1/schedules/{created.json()['id']}"
    # a refused change (the name is taken) leaves no row
    assert client.post("/v1/schedules", json=body, headers=admin).status_code == 409
    client.patch(url, json={"priority": 7}, headers=admin).raise_for_status()
    paused = client.patch(url, json={"paused": True}, headers=admin)
    client.patch(url, json={"paused": False}, headers=admin).raise_for_status()
    assert client.delete(url, headers=admin).status_code == 204

    rows = list(reversed(_trail(target_kind="schedule")))
    assert [r.action for r in rows] == [
        "schedule.created", "schedule.updated", "schedule.paused", "schedule.resumed",
        "schedule.deleted",
    ]  # fmt: skip
    assert {r.actor for r in rows} == {"audit-admin"}
    assert {r.target_name for r in rows} == {"audit-nightly"}
    assert rows[1].before == {"priority": None}
    assert rows[1].after == {"priority": 7}
    assert rows[2].correlation_id == paused.headers["X-Correlation-ID"]
    assert rows[4].before is not None
    assert rows[4].before["cron"] == "0 3 * * *"


def test_a_refused_edit_in_the_changes_transaction_writes_no_row(keys_: dict[str, Headers]) -> None:
    # Given a static entry (synced from the catalog) and a template
    static = find_schedule("maintenance.purge")
    spec = TemplateSpec(name="audit-note", subject="Hi", text="Hello {{ who }}",
                        sample_data={"who": "ops"})  # fmt: skip
    template = template_store.create_template(spec)
    before = len(_trail())
    # When edits fail inside their transaction (after the row was locked and read)
    with pytest.raises(ScheduleConflict):
        update_schedule(static.id, {"priority": 1})
    with pytest.raises(InvalidTemplate):
        template_store.update_template(template.id, {"text": "Hello {{ who"})
    # Then the trail has no row for them
    assert len(_trail()) == before
    assert [r.action for r in _trail(target_kind="template")] == ["template.created"]


def test_alerting_and_notification_changes_are_audited(keys_: dict[str, Headers]) -> None:
    with channel_settings():
        # channels: the secret never appears, the public settings do
        config = {"kind": "webhook", "url": "http://127.0.0.1:9/a", "secret": HOOK_SECRET}
        hook = channels.create_channel("audit-hook", parse_config(config))
        new_secret = "rotated-" + HOOK_SECRET
        channels.update_channel(hook.id, {"config": {"secret": new_secret}})
        channels.update_channel(hook.id, {"description": "pager"})
        rule = rule_store.create_rule(RuleSpec(
            name="audit-depth", source=SourceKind.QUEUE_DEPTH, op=Op.GE, threshold=3.0,
            spec={"queue": "default"}, interval_s=10, channels=("audit-hook",),
        ))  # fmt: skip
        rule_store.set_paused(rule.id, True)
        route = route_store.create_route(
            route_store.RouteSpec("audit-db", ["team=db"], ["audit-hook"])
        )
        route_store.update_route(route.id, {"position": 2})
        inhibit = route_store.create_inhibit_rule(
            route_store.InhibitSpec("audit-mute", ["severity=critical"], ["severity=warning"])
        )
        silence = route_store.create_silence(
            ["team=db"], utcnow() + timedelta(hours=1), "upgrade", "ops"
        )
        route_store.expire_silence(silence.id)
        route_store.delete_inhibit_rule(inhibit.id)
        route_store.delete_route(route.id)
        rule_store.delete_rule(rule.id)
        channels.delete_channel(hook.id)

    actions = [(r.action, r.target_name or r.target_id) for r in reversed(_trail())]
    assert actions[-14:] == [
        ("channel.created", "audit-hook"), ("channel.updated", "audit-hook"),
        ("channel.updated", "audit-hook"), ("alert_rule.created", "audit-depth"),
        ("alert_rule.paused", "audit-depth"), ("alert_route.created", "audit-db"),
        ("alert_route.updated", "audit-db"), ("inhibit_rule.created", "audit-mute"),
        ("silence.created", str(silence.id)), ("silence.expired", str(silence.id)),
        ("inhibit_rule.deleted", "audit-mute"), ("alert_route.deleted", "audit-db"),
        ("alert_rule.deleted", "audit-depth"), ("channel.deleted", "audit-hook"),
    ]  # fmt: skip
    channel_rows = _trail(target_kind="channel")
    assert next(r.action for r in channel_rows) == "channel.deleted"
    text = _text(channel_rows)
    assert HOOK_SECRET not in text
    assert new_secret not in text
    assert "secret_config" not in text
    assert "http://127.0.0.1:9/a" in text
    # a change of a secret alone is recorded, showing that something changed but not what
    secret_edit = channel_rows[-2]
    assert (secret_edit.action, secret_edit.before, secret_edit.after) == (
        "channel.updated",
        {},
        {},
    )


def _job(client: TestClient, headers: Headers) -> str:
    later = (utcnow() + timedelta(days=1)).isoformat()
    response = client.post("/v1/jobs", json={"type": "diag.noop", "run_at": later}, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_job_cancel_replay_and_dead_letter_purge_are_audited(
    client: TestClient, keys_: dict[str, Headers]
) -> None:
    writer, admin = keys_["writer"], keys_["admin"]
    job_id = _job(client, writer)
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=writer).status_code == 202
    # cancelling it again is refused, and writes nothing
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=writer).status_code == 409
    cancelled = _only(action="job.cancelled")
    assert (cancelled.actor, cancelled.target_id) == ("audit-writer", job_id)
    assert cancelled.before is not None
    assert cancelled.before["status"] == "scheduled"
    assert cancelled.after is not None
    assert cancelled.after["status"] == "cancelled"

    replay = client.post(f"/v1/jobs/{job_id}/replay", headers=admin)
    assert replay.status_code == 202, replay.text
    replayed = _only(action="job.replayed")
    assert replayed.actor == "audit-admin"
    assert replayed.after == {"replayed_by": replay.json()["id"]}

    # Given two dead letters, a purge batch writes one row naming them
    dead = [uuid.UUID(_job(client, writer)) for _ in range(2)]
    with session_scope() as session:
        session.execute(update(Job).where(Job.id.in_(dead))
                        .values(status=JobStatus.DEAD.value, finished_at=utcnow()))  # fmt: skip
    assert control.purge_batch(JobFilter(type="diag.noop"), 10) == 2
    purged = _only(action="dead_letters.purged")
    assert purged.after is not None
    assert sorted(purged.after["jobs"]) == sorted(str(i) for i in dead)
    assert purged.after["filters"]["type"] == "diag.noop"
    # an empty batch purges nothing and writes nothing
    assert control.purge_batch(JobFilter(type="diag.noop"), 10) == 0
    assert len(_trail(action="dead_letters.purged")) == 1


def test_a_maintenance_run_by_hand_is_audited_and_a_scheduled_one_is_not(
    keys_: dict[str, Headers],
) -> None:
    purge()  # as beat runs it
    assert _trail(action="maintenance.run") == []
    result = run_by_hand("purge")
    row = _only(action="maintenance.run")
    assert (row.target_kind, row.target_id, row.target_name) == (
        "maintenance", str(result.id), "purge")  # fmt: skip
    assert row.after == {"outcome": "succeeded", "error": None}
    assert row.actor == audit.os_actor()


def test_a_change_outside_the_store_writes_its_row_alone(keys_: dict[str, Headers]) -> None:
    # As a queue pause (kept in Redis) records itself once it took effect
    target = audit.Target("queue", name="bulk")
    audit.write("queue.paused", target, {"paused": False}, {"paused": True})
    row = _only(action="queue.paused")
    assert (row.target_kind, row.target_id, row.target_name) == ("queue", None, "bulk")
    assert (row.before, row.after, row.actor) == ({"paused": False}, {"paused": True},
                                                  audit.os_actor())  # fmt: skip


def test_the_api_reads_the_trail_admin_only_in_pages_and_by_filter(
    client: TestClient, keys_: dict[str, Headers]
) -> None:
    admin, reader = keys_["admin"], keys_["reader"]
    assert_error(client.get("/v1/audit", headers=reader), 403, "forbidden")
    assert client.get("/v1/audit").status_code == 401
    # append-only: no route changes a row
    assert client.delete("/v1/audit", headers=admin).status_code == 405
    assert client.post("/v1/audit", json={}, headers=admin).status_code == 405

    for n in range(3):
        body = {"name": f"audit-page-{n}", "task": "diag.noop", "interval_s": 600}
        client.post("/v1/schedules", json=body, headers=admin).raise_for_status()
    since = _named("audit-page-0", action="schedule.created")[0].created_at
    query = {"actor": "audit-admin", "action": "schedule.created", "since": since.isoformat()}
    seen: list[str] = []
    cursor = None
    while True:
        params = {**query, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/audit", params=params, headers=admin)
        assert page.status_code == 200, page.text
        seen += [item["target_name"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["audit-page-2", "audit-page-1", "audit-page-0"]
    by_kind = client.get("/v1/audit", params={"target_kind": "key"}, headers=admin).json()
    assert by_kind["items"]
    assert {i["target_kind"] for i in by_kind["items"]} == {"key"}
    assert client.get("/v1/audit", params={"actor": "nobody"}, headers=admin).json() == {
        "items": [], "next_cursor": None}  # fmt: skip
    assert_error(client.get("/v1/audit", params={"cursor": "x"}, headers=admin), 422,
                 "validation_error")  # fmt: skip


def test_the_cli_prints_the_trail_as_a_table_or_json(keys_: dict[str, Headers]) -> None:
    shown = run("audit", "--action", "key.created", "--json")
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)
    assert {r["action"] for r in rows} == {"key.created"}
    assert "audit-admin" in {r["target_name"] for r in rows}
    table = run("audit", "--target-kind", "key", "--limit", "2")
    assert table.exit_code == 0, table.output
    assert "key.created" in table.stdout or "key.revoked" in table.stdout
    empty = run("audit", "--actor", "nobody")
    assert empty.exit_code == 0
    assert "No audited actions match" in empty.stderr


def test_retention_purges_old_rows_only(keys_: dict[str, Headers]) -> None:
    old = AuditEntry(actor="ops@old", action="key.created", target_kind="key",
                     created_at=utcnow() - timedelta(days=400))  # fmt: skip
    with session_scope() as session:
        session.add(old)
    kept = len(_trail()) - 1
    figures: dict[str, Any] = {}
    purge_records(figures)
    assert figures["audit_entries"] == 1
    assert _trail(actor="ops@old") == []
    assert len(_trail()) == kept
