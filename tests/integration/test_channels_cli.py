"""``taskyard channels`` on both stores: add (secrets from options, the environment or a
generated one shown once), list, show, test against real receivers, remove, rekey; one-line
errors with the CLI's exit codes, and no secret ever echoed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from tasks.notifications import store
from tasks.notifications.guards import endpoint_for, record_result
from tasks.notifications.sealing import new_key
from tests.support.channels import channel_settings, raw_row, use_keys
from tests.support.cli import last_line, one_line_failure, run
from tests.support.sinks import SINK_SECRET, HttpSink, smtp_server
from workers.settings import get_settings

SLACK_URL_TAIL = "/services/TCLI/BCLI/clislacktoken31"
PASSWORD = "cli-smtp-pw-8675309"
pytestmark = pytest.mark.usefixtures("fresh_sink")


def run_env(*args: str, **env: str) -> Result:
    """``taskyard ARGS`` with ``env`` set for the command alone."""
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(scope="module", autouse=True)
def settings(runtime: dict[str, str]) -> Iterator[pytest.MonkeyPatch]:
    with channel_settings(TASKYARD_SECRET_KEYS=None) as patch:
        yield patch


def everything(result: Result) -> str:
    return result.stdout + result.stderr


def test_add_list_show_test_remove_a_webhook(sink: HttpSink) -> None:
    added = run_env("channels", "add", "ci-hooks", "--kind", "webhook", "--url",
                    f"{sink.url}/ci", "--description", "CI results",
                    TASKYARD_CHANNEL_SECRET=SINK_SECRET)  # fmt: skip

    channel_id = uuid.UUID(last_line(added))
    assert "TASKYARD_SECRET_KEYS is not set" in added.stderr  # said once, at the write
    listed = run("channels", "list")
    row = next(line for line in listed.stdout.splitlines() if "ci-hooks" in line)
    for cell in ("webhook", f"{sink.url}/ci", "secret (plain)", "CI results"):
        assert cell in row
    shown = run("channels", "show", "ci-hooks")
    assert str(channel_id) in shown.stdout
    assert "secret (plain)" in shown.stdout

    tested = run("channels", "test", "ci-hooks")
    assert tested.exit_code == 0, tested.output
    assert "delivered through 'ci-hooks' (answer 200" in tested.stdout
    assert len(sink.received) == 1

    sink.answer = "500"
    line = one_line_failure(run("channels", "test", "ci-hooks"), 1)
    assert "HTTP 500" in line
    assert "check the receiver is up" in line

    assert run("channels", "remove", "ci-hooks").exit_code == 0
    line = one_line_failure(run("channels", "show", "ci-hooks"), 1)
    assert "`taskyard channels list` shows them" in line
    for result in (added, listed, shown, tested):
        assert SINK_SECRET not in everything(result)


def test_a_generated_webhook_secret_is_shown_once_and_signs(sink: HttpSink) -> None:
    added = run("channels", "add", "gen-hooks", "--kind", "webhook", "--url", f"{sink.url}/g")

    generated = last_line(added)
    sink.secret = generated
    try:
        assert run("channels", "test", "gen-hooks").exit_code == 0
    finally:
        sink.secret = SINK_SECRET
    assert sink.refused == []
    assert generated not in everything(run("channels", "show", "gen-hooks"))


def test_a_secret_url_comes_from_the_environment_and_is_never_echoed(sink: HttpSink) -> None:
    url = f"{sink.url}{SLACK_URL_TAIL}"
    missing = one_line_failure(run("channels", "add", "team", "--kind", "slack"), 2)
    assert "give --url or set TASKYARD_CHANNEL_URL" in missing

    added = run_env("channels", "add", "team", "--kind", "slack", TASKYARD_CHANNEL_URL=url)
    assert added.exit_code == 0, added.output
    outputs = [added, run("channels", "list"), run("channels", "show", "team")]

    for result in outputs:
        assert "clislacktoken31" not in everything(result)
    assert "slack URL (secret)" in outputs[1].stdout


def test_an_email_channel_logs_in_without_showing_its_password() -> None:
    with smtp_server("none", credentials=("ops", PASSWORD)) as mailbox:
        added = run_env("channels", "add", "mail", "--kind", "email", "--host", "127.0.0.1",
                        "--port", str(mailbox.port), "--security", "none", "--username", "ops",
                        "--from", "ty@example.com", "--to", "a@example.com", "--to",
                        "b@example.com", TASKYARD_CHANNEL_PASSWORD=PASSWORD)  # fmt: skip
        tested = run("channels", "test", "mail")

    assert added.exit_code == 0, added.output
    assert tested.exit_code == 0, tested.output
    assert "answer 250" in tested.stdout
    assert mailbox.logins == ["ops"]
    assert [m[1] for m in mailbox.messages] == [["a@example.com", "b@example.com"]]
    for result in (added, tested, run("channels", "show", "mail")):
        assert PASSWORD not in everything(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--kind", "email", "--host", "127.0.0.1", "--from", "ty@example.com", "--to", "nope"],
         "--to: 'nope' is not an email address"),
        (["--kind", "webhook", "--url", "http://10.1.2.3/x", "--secret", SINK_SECRET],
         "a private address"),
        (["--kind", "webhook", "--url", "http://169.254.169.254/", "--secret", SINK_SECRET],
         "cloud metadata"),
        (["--kind", "webhook", "--url", "http://127.0.0.1/x", "--secret", "short"],
         "--secret: must be at least 16 characters"),
        (["--kind", "slack", "--url", "http://127.0.0.1/x", "--to", "a@example.com"],
         "--to do(es) not apply to --kind slack"),
        (["--kind", "slack", "--url", "http://127.0.0.1/x", "--rate-limit", "lots"],
         "--rate-limit: 'lots' is not a rate limit"),
        (["--kind", "webhook"], "a webhook needs --url URL"),
    ],
)  # fmt: skip
def test_bad_settings_are_usage_errors(args: list[str], expected: str) -> None:
    line = one_line_failure(run("channels", "add", "bad", *args), 2)

    assert expected in line


def test_any_kind_takes_a_rate_limit_and_idempotent(sink: HttpSink) -> None:
    added = run("channels", "add", "paced", "--kind", "webhook", "--url", f"{sink.url}/p",
                "--rate-limit", "100/minute", "--idempotent")  # fmt: skip
    assert added.exit_code == 0, added.output

    record = store.find_channel("paced")
    assert (record.config["rate_limit"], record.config["idempotent"]) == ("100/minute", True)
    shown = run("channels", "show", "paced").stdout
    assert "100/minute" in shown
    assert "idempotent" in shown


def test_show_tells_an_open_breaker_and_reset_closes_it(sink: HttpSink) -> None:
    # Given a channel whose endpoint failed enough times in a row to open its breaker
    assert run("channels", "add", "flaky", "--kind", "webhook", "--url",
               f"{sink.url}/SECRET-PATH").exit_code == 0  # fmt: skip
    endpoint = endpoint_for(store.config_of(store.find_channel("flaky")))
    assert endpoint == sink.url
    for _ in range(get_settings().breaker_failures):
        record_result(endpoint, ok=False)

    # Then `show` says it is open, and how to close it
    shown = run("channels", "show", "flaky").stdout
    assert "open, one trial send in" in shown
    assert "taskyard channels reset flaky" in shown

    # When an operator resets it, it is closed
    reset = run("channels", "reset", "flaky")
    assert reset.exit_code == 0, reset.output
    assert f"Closed the breaker of {endpoint}" in reset.stdout
    assert f"closed ({endpoint})" in run("channels", "show", "flaky").stdout
    assert "was closed, with no failures" in run("channels", "reset", "flaky").stdout


def test_a_taken_name_is_one_line(sink: HttpSink) -> None:
    args = ["channels", "add", "twice", "--kind", "webhook", "--url", f"{sink.url}/t"]
    assert run(*args).exit_code == 0

    line = one_line_failure(run(*args), 1)

    assert "a channel named 'twice' exists already" in line


def test_rekey_seals_plain_secrets_and_rotates(
    sink: HttpSink, settings: pytest.MonkeyPatch
) -> None:
    assert "is not set" in one_line_failure(run("channels", "rekey"), 1)
    run_env("channels", "add", "rot", "--kind", "webhook", "--url", f"{sink.url}/r",
            TASKYARD_CHANNEL_SECRET=SINK_SECRET)  # fmt: skip
    first, second = new_key(), last_line(run("channels", "new-key"))
    total = store.count_channels()

    use_keys(settings, first)
    sealed = run("channels", "rekey")
    use_keys(settings, second, first)
    rotated = run("channels", "rekey")
    use_keys(settings, second)

    assert sealed.exit_code == 0, sealed.output
    assert f"Resealed {total} channels" in sealed.stdout
    assert f"{total} of them stored plain until now" in sealed.stdout
    assert rotated.exit_code == 0, rotated.output
    assert "stored plain" not in rotated.stdout
    _, stored, is_sealed = raw_row("rot")
    assert is_sealed
    assert SINK_SECRET not in stored
    assert run("channels", "test", "rot").exit_code == 0  # the new key alone opens it
    use_keys(settings)
