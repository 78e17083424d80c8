"""``taskyard notifications send`` and ``taskyard deliveries`` on both stores: a send prints
its deliveries as a table, idempotency keys return the first notification, and deliveries are
listed, shown, replayed and cancelled; every refusal is one line with the CLI's exit codes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from tasks.notifications import deliveries
from tasks.notifications.catalog import DeliverPayload
from tasks.notifications.sending import deliver
from tasks.notifications.template_store import create_template
from tasks.notifications.templates import TemplateSpec
from tests.support.channels import webhook_channels
from tests.support.cli import last_line, one_line_failure, run
from tests.support.hostile import BAD_TEXT, DOCUMENTS, HUGE_NUMBERS, TIMESTAMPS, some_of
from tests.support.sinks import HttpSink
from workers.store.engine import session_scope
from workers.store.models import Job

pytestmark = pytest.mark.usefixtures("fresh_sink")


@pytest.fixture(scope="module", autouse=True)
def channels(sink: HttpSink) -> Iterator[None]:
    greet = TemplateSpec("greet", "Hi {{ name }}", "Hello {{ name }}",
                         sample_data={"name": "Ada"}, default_channels=("billing",))  # fmt: skip
    with webhook_channels(sink, "ops-hook", "ops-pager", "billing"):
        create_template(greet)
        yield


def _ids(stdout: str) -> list[uuid.UUID]:
    """The delivery ids in a printed table (each row starts with one)."""
    found = []
    for line in stdout.splitlines():
        for cell in line.replace("│", " ").replace("┃", " ").split():
            try:
                found.append(uuid.UUID(cell))
            except ValueError:
                continue
    return found


def _sent_ids(*args: str) -> list[uuid.UUID]:
    result = run("notifications", "send", *args)
    assert result.exit_code == 0, result.output
    return [i for i in _ids(result.stdout) if deliveries.find(i) is not None]


def test_send_prints_one_row_per_delivery(tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("the disk is full\n", encoding="utf-8")

    result = run("notifications", "send", "--channels", "ops-*", "--subject", "Disk",
                 "--text-file", str(body), "--priority", "8", "--queue", "high")  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "Recorded notification" in result.stderr
    assert "2 deliveries" in result.stderr
    rows = [line for line in result.stdout.splitlines() if "ops-" in line]
    assert len(rows) == 2
    assert all("queued" in row and "high" in row for row in rows)
    ids = [i for i in _ids(result.stdout) if deliveries.find(i) is not None]
    assert sorted(deliveries.get(i).channel_name for i in ids) == ["ops-hook", "ops-pager"]
    assert deliveries.members(deliveries.get(ids[0]))[0].text == "the disk is full\n"
    assert deliveries.get(ids[0]).priority == 8


def test_a_template_goes_to_its_default_channels_and_names_and_a_glob_resolve() -> None:
    (templated,) = _sent_ids("--template", "greet", "--data", '{"name": "Grace"}')
    named = _sent_ids("--channels", "billing,ops-hook", "--subject", "s", "--text", "t")

    assert deliveries.get(templated).channel_name == "billing"
    assert sorted(deliveries.get(i).channel_name for i in named) == ["billing", "ops-hook"]


def test_an_idempotency_key_returns_the_first_notification() -> None:
    args = ("--channels", "billing", "--subject", "s", "--text", "t", "--idempotency-key", "c-1")

    first = _sent_ids(*args)
    again = run("notifications", "send", *args)
    other = run("notifications", "send", *args[:-3], "other", *args[-2:])

    assert again.exit_code == 0, again.output
    assert "Returned the existing notification" in again.stderr
    assert [i for i in _ids(again.stdout) if i in first] == first
    line = one_line_failure(other, 1)
    assert "c-1" in line
    assert "use a new --idempotency-key" in line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--channels", "nope", "--subject", "s", "--text", "t"], "--channels: no channel named"),
        (["--channels", "zz-*", "--subject", "s", "--text", "t"], "--channels: no channel matches"),
        (["--channels", "ops-*,billing", "--subject", "s", "--text", "t"], "one glob alone"),
        (["--channels", "a,,b", "--subject", "s", "--text", "t"], "empty channel"),
        (["--channels", "billing", "--subject", "two\nlines", "--text", "t"], "--subject: must"),
        (["--channels", "billing", "--template", "greet", "--subject", "s"], "--template: give"),
        (["--channels", "billing", "--template", "missing"], "--template: no template named"),
        (["--channels", "billing", "--subject", "s"], "give a template, or a subject"),
        (["--channels", "billing", "--subject", "s", "--text", "t", "--text-file", "x"],
         "--text or --text-file"),
        (["--channels", "billing", "--subject", "s", "--text", "t", "--digest-key", "d"],
         "--digest-key: give --digest-key and --digest-window together"),
        (["--channels", "billing", "--subject", "s", "--text", "t", "--digest-key", "d",
          "--digest-window", "100000"], "--digest-window: must be between 1 and 86400"),
        (["--channels", "billing", "--subject", "s", "--text", "t", "--delay", "5", "--run-at",
          "2030-01-01T00:00:00Z"], "give --delay or --run-at"),
        (["--channels", "billing", "--subject", "s", "--text", "t", "--data", "[1]"],
         "--data must be a JSON object"),
        (["--channels", "billing", "--subject", "s", "--text", "t", "--priority", "10"],
         "--priority"),
        (["--channels", "billing", "--subject", "s", "--text-file", "/no/such/file"],
         "--text-file: cannot read"),
        (["--channels", "billing", "--subject", "s", "--text-file", "a\x00b"],
         "is not a path a file can have"),
    ],
)  # fmt: skip
def test_a_bad_send_is_one_line_and_exit_2(args: list[str], words: str) -> None:
    line = one_line_failure(run("notifications", "send", *args), 2)

    assert words in line


def test_deliveries_list_filters_and_show_prints_every_field() -> None:
    (billing,) = _sent_ids("--channels", "billing", "--subject", "s", "--text", "t")
    (ops,) = _sent_ids("--channels", "ops-hook", "--subject", "s", "--text", "t")

    listed = run("deliveries", "list", "--channel", "billing", "--status", "queued")
    shown = run("deliveries", "show", str(billing))
    as_json = run("deliveries", "show", str(billing), "--json")

    assert listed.exit_code == 0, listed.output
    assert str(billing) in listed.stdout
    assert str(ops) not in listed.stdout
    assert shown.exit_code == 0, shown.output
    for field in ("status", "attempts", "last error", "error class", "status code",
                  "provider message id", "maybe delivered", "sent at", "replay of",
                  "replayed by", "job id"):  # fmt: skip
        assert field in shown.stdout
    record = json.loads(as_json.stdout)
    assert (record["id"], record["channel_name"], record["status"]) == (
        str(billing), "billing", "queued")  # fmt: skip
    assert "claim_token" not in record
    limited = run("deliveries", "list", "--limit", "1")
    assert "--limit shows more" in limited.stdout
    none = run("deliveries", "list", "--channel", "nobody")
    assert none.exit_code == 0
    assert "No deliveries match" in none.stderr


def test_a_failed_delivery_replays_and_a_waiting_one_cancels(sink: HttpSink) -> None:
    (failed,) = _sent_ids("--channels", "ops-pager", "--subject", "s", "--text", "t")
    sink.answer = "400"
    assert deliver(DeliverPayload(delivery_id=str(failed)))["status"] == "failed"
    (waiting,) = _sent_ids("--channels", "ops-pager", "--subject", "s", "--text", "t")

    replayed = run("deliveries", "replay", str(failed))
    cancelled = run("deliveries", "cancel", str(waiting))

    new = uuid.UUID(last_line(replayed))
    assert f"as delivery {new}" in replayed.stderr
    assert deliveries.get(new).replay_of == failed
    assert deliveries.get(failed).replayed_by == new
    assert cancelled.exit_code == 0, cancelled.output
    assert "will not be sent" in cancelled.stdout
    assert deliveries.get(waiting).status == "cancelled"
    line = one_line_failure(run("deliveries", "replay", str(failed)), 1)
    assert "replayed already" in line
    line = one_line_failure(run("deliveries", "cancel", str(waiting)), 1)
    assert "can be cancelled" in line
    assert "`taskyard deliveries show ID`" in line
    line = one_line_failure(run("deliveries", "replay", str(new)), 1)
    assert "queued" in line


def test_unknown_and_malformed_ids() -> None:
    for verb in ("show", "replay", "cancel"):
        line = one_line_failure(run("deliveries", verb, str(uuid.uuid4())), 1)
        assert "`taskyard deliveries list` shows recent ones" in line
        one_line_failure(run("deliveries", verb, "nope"), 2)
    one_line_failure(run("deliveries", "list", "--status", "lost"), 2)


def test_the_delivery_job_type_is_neither_enqueued_nor_replayed_as_a_job() -> None:
    (delivery_id,) = _sent_ids("--channels", "billing", "--subject", "s", "--text", "t")
    job_id = deliveries.get(delivery_id).job_id
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="dead"))

    enqueued = run("jobs", "enqueue", "notify.deliver", "--payload",
                   json.dumps({"delivery_id": str(delivery_id)}))  # fmt: skip
    replayed = run("jobs", "replay", str(job_id))

    for result in (enqueued, replayed):
        line = one_line_failure(result, 2)
        assert "is internal" in line
        assert "taskyard notifications send" in line


CLI_TEXT = BAD_TEXT.filter(lambda text: not text.startswith("-"))
SEND_FLAGS = some_of(
    channels=st.one_of(CLI_TEXT, st.just("ops-hook")), template=CLI_TEXT, subject=CLI_TEXT,
    text=CLI_TEXT, text_file=CLI_TEXT, html_file=CLI_TEXT,
    data=DOCUMENTS.map(json.dumps), idempotency_key=CLI_TEXT, digest_key=CLI_TEXT,
    digest_window=HUGE_NUMBERS.map(str), priority=HUGE_NUMBERS.map(str),
    delay=HUGE_NUMBERS.map(str), run_at=TIMESTAMPS, queue=CLI_TEXT,
).map(lambda found: [part for name, value in found.items()
                     for part in (f"--{name.replace('_', '-')}", value)])  # fmt: skip
DELIVERY_COMMANDS = st.one_of(
    st.builds(lambda verb, ident: ["deliveries", verb, ident],
              st.sampled_from(["show", "replay", "cancel"]), CLI_TEXT),
    st.builds(lambda channel, limit: ["deliveries", "list", "--channel", channel, "--limit", limit],
              CLI_TEXT, HUGE_NUMBERS.map(str)),
)  # fmt: skip


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(args=st.one_of(SEND_FLAGS.map(lambda flags: ["notifications", "send", *flags]),
                      DELIVERY_COMMANDS))  # fmt: skip
def test_no_hostile_command_line_gets_a_traceback(args: list[str]) -> None:
    result = run(*args)

    where = f"taskyard {' '.join(map(repr, args)):.300}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{where}: {result.exception!r}"
    )
    assert result.exit_code in (0, 1, 2), f"{where}: {result.output}"
    if result.exit_code:
        one_line_failure(result, result.exit_code)
