"""Which stack the CLI talks to: -v, a dev stack that stopped, and the doctor without a stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import one_line_failure, run
from tests.support.devstack import free_port
from workers.settings import get_settings
from workers.stackfile import STACK_FILE, STACK_VARIABLES, dotenv_line, held, is_live
from workers.store.engine import dispose_engines
from workers.store.models import Job


@pytest.fixture
def beside_a_dev_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A directory holding a dev stack's var/dev.env, as the cwd, with no stack variable set."""
    for name in (*STACK_VARIABLES, "TASKYARD_VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    path = tmp_path / "var" / STACK_FILE
    broker = f"redis+socket://{tmp_path / 'var' / 'redis' / 'redis.sock'}?virtual_host=0"
    store = f"sqlite:///{tmp_path / 'var' / 'taskyard.db'}"
    lines = [
        dotenv_line("TASKYARD_BROKER_URL", broker),
        dotenv_line("TASKYARD_DATABASE_URL", store),
    ]
    path.write_text("\n".join(lines) + "\n")
    get_settings.cache_clear()
    yield path
    dispose_engines()
    get_settings.cache_clear()


def test_the_lock_tells_a_running_stack_from_a_stopped_one(tmp_path: Path) -> None:
    path = tmp_path / STACK_FILE
    path.write_text("")

    assert not is_live(path)
    with held(path):
        assert is_live(path)
    assert not is_live(path)
    assert not is_live(tmp_path / "missing")


@pytest.mark.parametrize(
    "args",
    [
        ["jobs", "list"],
        ["jobs", "enqueue", "diag.noop"],
        ["dead-letters", "list"],
        ["keys", "list"],
    ],
)
def test_a_stopped_dev_stack_is_one_line_at_once(beside_a_dev_stack: Path, args: list[str]) -> None:
    # Given var/dev.env is left from a stack that stopped (nobody holds it)
    # When a command that needs the stack runs beside it
    line = one_line_failure(run(*args), 1)

    # Then it says the stack is not running and how to start it, without trying the broker
    assert f"the dev stack in {beside_a_dev_stack.parent} is not running" in line
    assert "`make run`" in line


@pytest.mark.parametrize(
    "args", [["jobs", "--help"], ["jobs"], ["jobs", "list", "--help"], ["no-such-command"]]
)
def test_help_and_usage_errors_need_no_running_stack(
    beside_a_dev_stack: Path, args: list[str]
) -> None:
    result = run(*args)

    assert "is not running" not in result.output


def test_a_running_dev_stack_is_used(beside_a_dev_stack: Path) -> None:
    # Given the stack holds its file (its store is not migrated: any store error will do)
    with held(beside_a_dev_stack):
        # When a command runs with -v
        result = run("-v", "jobs", "list")

    # Then it names the dev stack's broker and store, and where they came from
    said = result.stderr.splitlines()[0]
    assert said.startswith("taskyard: broker redis+socket://")
    assert f"store sqlite:///{beside_a_dev_stack.parent / 'taskyard.db'}" in said
    assert f"from var/{STACK_FILE}, the settings of the dev stack" in said


def test_verbose_masks_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TASKYARD_BROKER_URL", "redis://:s3cret@127.0.0.1:1/0")
    monkeypatch.setenv("TASKYARD_DATABASE_URL", "postgresql://u:pw0rd@127.0.0.1:1/x")
    get_settings.cache_clear()
    try:
        result = run("-v", "db", "--help")
        verbose = run("-v", "keys", "list")
    finally:
        dispose_engines()
        get_settings.cache_clear()

    assert "s3cret" not in result.output
    said = verbose.stderr.splitlines()[0]
    assert said == (
        "taskyard: broker redis://:***@127.0.0.1:1/0, "
        "store postgresql+psycopg2://u:***@127.0.0.1:1/x; from TASKYARD_* environment variables"
    )
    assert "s3cret" not in verbose.output
    assert "pw0rd" not in verbose.output


def test_doctor_without_a_stack_fails_each_line_with_a_next_step(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given settings naming a broker that is not there and a store never migrated
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TASKYARD_BROKER_URL", f"redis+socket://{tmp_path / 'none.sock'}")
    monkeypatch.setenv("TASKYARD_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("TASKYARD_API_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    try:
        # When the doctor runs
        result = run("doctor")
    finally:
        dispose_engines()
        get_settings.cache_clear()

    # Then the table fails broker, store and API, each with what to do, and skips the rest
    assert result.exit_code == 1, result.output
    rows = [line.split("│") for line in result.stdout.splitlines() if line.startswith("│")]
    status = {row[1].strip(): row[2].strip() for row in rows if row[1].strip()}
    assert status == {
        "settings": "ok", "broker": "FAIL", "store": "FAIL", "workers": "skipped",
        "round trip": "skipped", "api": "FAIL",
    }  # fmt: skip
    assert "fix TASKYARD_BROKER_URL" in result.stdout
    assert "taskyard db upgrade" in result.stdout
    assert "TASKYARD_API_URL" in result.stdout
    assert one_line_failure(result, 1) == (
        "taskyard: 3 checks failed (broker, store, api); the table above says what to do next"
    )


def test_an_enqueue_on_the_built_in_defaults_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.jobs import announce
    from tasks.jobs.producer import JobRequest, Submission

    # Given no TASKYARD_* variable and no dev stack where the command runs
    for name in (*STACK_VARIABLES, "TASKYARD_VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    job = Job(id=uuid.uuid4(), type="diag.noop", status="queued", queue="default", priority=5)

    # When an enqueue is reported
    announce(Submission(job, created=True), JobRequest("diag.noop"))

    # Then a second line says the broker and store are the built-in ones, and what checks them
    said = capsys.readouterr().err.splitlines()
    assert said[0].startswith("Enqueued diag.noop")
    assert said[1].startswith(
        "taskyard: note: that used the built-in broker redis://127.0.0.1:6379/0 and store "
        "sqlite:///var/taskyard.db"
    )
    assert "taskyard doctor" in said[1]

    # And with a stack named in the environment, the report is the one line
    monkeypatch.setenv("TASKYARD_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    announce(Submission(job, created=True), JobRequest("diag.noop"))
    assert len(capsys.readouterr().err.splitlines()) == 1
    get_settings.cache_clear()
