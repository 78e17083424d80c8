"""``/v1/subscriptions`` and ``taskyard subscriptions`` on both stores: edits, the checks
(event, glob, channels, template), errors in the one shape and one CLI line, and `admin` for
everything (what every named resource does, from creation to cursor pages, is held in
test_resources_api)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasks.notifications import events
from tasks.notifications import subscriptions as subscription_store
from tasks.notifications.events import EventKind
from tasks.notifications.template_store import create_template
from tasks.notifications.templates import TemplateSpec
from tests.support.api import Headers, assert_error
from tests.support.channels import webhook_channels
from tests.support.cli import last_line, one_line_failure, run
from tests.support.resources import SUBSCRIPTIONS
from tests.support.sinks import HttpSink

create = SUBSCRIPTIONS.create


@pytest.fixture(scope="module", autouse=True)
def setup(sink: HttpSink) -> Iterator[None]:
    with webhook_channels(sink, "ops", "ops-b"):
        jobs, runs = events.sample(EventKind.JOB_DEAD), events.sample(EventKind.MAINTENANCE_FAILED)
        create_template(TemplateSpec("dead-job", "{{ job.type }} died", "{{ job.id }}",
                                     sample_data=jobs))  # fmt: skip
        create_template(TemplateSpec("run-only", "{{ run.name }}", "x", sample_data=runs))
        yield


def test_an_admin_edits_and_reenables_a_subscription(client: TestClient, admin: Headers) -> None:
    url = f"/v1/subscriptions/{create(client, admin).json()['id']}"

    edited = client.patch(url, json={"channels": "ops*", "template": "dead-job",
                                     "enabled": False}, headers=admin)  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert (edited.json()["channels"], edited.json()["template"]) == ("ops*", "dead-job")
    assert edited.json()["enabled"] is False
    back = client.patch(url, json={"template": None, "enabled": True}, headers=admin)
    assert (back.json()["template"], back.json()["enabled"]) == (None, True)
    assert back.json()["scanned_until"] is not None  # enabled: it starts from now


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"event": "job.exploded"}, "event", "use one of job.dead"),
        ({"match": "billing.*"}, "match", "matches none of the job types"),
        ({"event": "maintenance.failed", "match": "maintenance.*"}, "match", "purge"),
        ({"match": "notify.*"}, "match", "matches none"),
        ({"channels": ["ops", "nowhere"]}, "channels", "no channel named 'nowhere'"),
        ({"channels": "pager-*"}, "channels", "no channel matches 'pager-*'"),
        ({"channels": []}, "channels", "name channels"),
        ({"template": "missing"}, "template", "no template named 'missing'"),
        ({"template": "run-only"}, "template", "'run' is undefined"),
    ],
)
def test_a_subscription_that_cannot_work_is_refused_naming_the_field(
    client: TestClient, admin: Headers, fields: dict[str, Any], field: str, words: str
) -> None:
    error = assert_error(create(client, admin, name=f"bad-{uuid.uuid4().hex[:8]}", **fields),
                         422, "invalid_subscription", field)  # fmt: skip
    assert words in error["message"]


def test_a_template_with_default_channels_may_stand_for_the_channels(
    client: TestClient, admin: Headers
) -> None:
    create_template(TemplateSpec("with-channels", "{{ run.name }} failed", "x",
                                 sample_data=events.sample(EventKind.MAINTENANCE_FAILED),
                                 default_channels=("ops-b",)))  # fmt: skip
    created = create(client, admin, name="upkeep", event="maintenance.failed", match="*",
                     channels=[], template="with-channels")  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["channels"] == []


def test_only_admin_reads_them_and_an_edit_needs_a_known_id_and_field(
    client: TestClient, admin: Headers, keys: dict[str, Headers]
) -> None:
    assert_error(client.get("/v1/subscriptions", headers=keys["reader"]), 403, "forbidden")
    assert_error(client.patch(f"/v1/subscriptions/{uuid.uuid4()}", json={"enabled": False},
                              headers=admin), 404, "subscription_not_found")  # fmt: skip
    assert_error(client.patch(f"/v1/subscriptions/{uuid.uuid4()}", json={"name": "x"},
                              headers=admin), 422, "validation_error")  # fmt: skip


def test_the_cli_adds_lists_shows_disables_and_removes(runtime: dict[str, str]) -> None:
    added = run("subscriptions", "add", "cli-dead", "--event", "job.dead", "--match", "diag.*",
                "--channel", "ops*")  # fmt: skip
    record = subscription_store.get_subscription(uuid.UUID(last_line(added)))
    assert (record.event, record.match, record.channels) == ("job.dead", "diag.*", ["ops*"])

    listed = run("subscriptions", "list")
    row = next(line for line in listed.stdout.splitlines() if "cli-dead" in line)
    assert "job.dead" in row
    assert "ops*" in row
    assert "(built in)" in row
    assert "cli-dead" in run("subscriptions", "show", "cli-dead").stdout

    assert run("subscriptions", "disable", "cli-dead").exit_code == 0
    assert subscription_store.find_subscription("cli-dead").enabled is False
    assert run("subscriptions", "enable", "cli-dead").exit_code == 0
    assert subscription_store.find_subscription("cli-dead").enabled is True

    assert run("subscriptions", "remove", "cli-dead").exit_code == 0
    line = one_line_failure(run("subscriptions", "show", "cli-dead"), 1)
    assert "no subscription named 'cli-dead'" in line
    assert "`taskyard subscriptions list` shows them" in line


def test_the_cli_names_the_option_a_refusal_is_about(runtime: dict[str, str]) -> None:
    refused = run("subscriptions", "add", "cli-bad", "--event", "job.dead", "--match", "x.*",
                  "--channel", "ops")  # fmt: skip
    assert one_line_failure(refused, 2).startswith("taskyard: --match: 'x.*' matches none")
    missing = run("subscriptions", "add", "cli-bad", "--event", "job.dead", "--channel", "nope")
    assert "--channel: no channel named 'nope'" in one_line_failure(missing, 2)
