"""docker-compose.yml runs every Procfile process the way docs/deployment.md describes.

There is no Docker engine in CI, so these tests read the files: the compose file as YAML
(before compose's ``${...}`` interpolation), the Procfile and the Dockerfile as text.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from workers.queues import QueueName

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "deploy/Dockerfile"
ONE_SHOT = "migrate"
RESTARTING = {"always", "unless-stopped", "on-failure"}


def parse_procfile(text: str) -> dict[str, str]:
    """The ``name: command`` lines of a Procfile, in order; blanks and ``#`` comments skipped."""
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        if not colon or not name.strip() or not command.strip():
            raise ValueError(f"Procfile line {number} is not 'name: command': {raw!r}")
        processes[name.strip()] = command.strip()
    return processes


def argv(command: str | list[str]) -> list[str]:
    """A compose or Procfile command as an argument list."""
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def option(args: list[str], *names: str) -> str | None:
    """The value given to the first of ``names`` (``-Q a,b`` or ``--queues=a,b``), if any."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def consumed_queues(command: str | list[str]) -> list[str]:
    """The queues a ``celery worker`` command consumes, in the order given."""
    value = option(argv(command), "-Q", "--queues")
    assert value, f"no -Q/--queues in worker command {command!r}"
    return value.split(",")


PROCFILE = parse_procfile((ROOT / "Procfile").read_text())
WORKERS = [name for name in PROCFILE if name.startswith("worker-")]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def service(name: str) -> dict[str, Any]:
    """The compose service called ``name``, failing clearly when it is missing."""
    if name not in SERVICES:
        pytest.fail(f"docker-compose.yml has no service {name!r} (it has {sorted(SERVICES)})")
    return SERVICES[name]


def test_the_procfile_is_parsed_as_name_command_lines() -> None:
    text = "# processes\napi: uvicorn app:x --port 8000\n\nbeat: celery beat\n"

    assert parse_procfile(text) == {"api": "uvicorn app:x --port 8000", "beat": "celery beat"}
    with pytest.raises(ValueError, match="line 1"):
        parse_procfile("no colon here")


@pytest.mark.parametrize("name", list(PROCFILE))
def test_every_procfile_process_is_a_service_with_a_healthcheck(name: str) -> None:
    healthcheck = service(name).get("healthcheck")

    assert healthcheck, f"service {name!r} has no healthcheck"
    assert not healthcheck.get("disable"), f"service {name!r} disables its healthcheck"
    assert healthcheck.get("test"), f"service {name!r} has a healthcheck without a test"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_service_consumes_exactly_its_procfile_queues(name: str) -> None:
    in_procfile = consumed_queues(PROCFILE[name])
    in_compose = consumed_queues(service(name)["command"])

    assert in_compose == in_procfile, (
        f"{name}: compose consumes {in_compose}, the Procfile {in_procfile} "
        "(order matters: the first queue is served first)"
    )


@pytest.mark.parametrize("name", WORKERS)
def test_worker_concurrency_comes_from_the_procfile_variable(name: str) -> None:
    in_procfile = option(argv(PROCFILE[name]), "--concurrency", "-c")
    in_compose = option(argv(service(name)["command"]), "--concurrency", "-c")

    assert in_compose is not None, f"{name}: no --concurrency in the compose command"
    assert re.fullmatch(r"\$\{TASKYARD_[A-Z]+_CONCURRENCY:-\d+\}", in_compose), (
        f"{name}: --concurrency should be ${{TASKYARD_<PROFILE>_CONCURRENCY:-N}}, got {in_compose}"
    )
    assert in_compose == in_procfile, f"{name}: compose {in_compose} != Procfile {in_procfile}"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_healthcheck_checks_the_node_the_worker_names_itself(name: str) -> None:
    node = option(argv(service(name)["command"]), "-n", "--hostname")
    assert node is not None, f"{name}: the worker command sets no -n node name"
    prefix = node.split("@", 1)[0]
    test = " ".join(argv(service(name)["healthcheck"]["test"]))

    assert "taskyard workers check" in test, (
        f"{name}: healthcheck should be `workers check`: {test}"
    )
    # Compose turns $$ into a literal $, left for the container's shell to expand.
    assert f"--node {prefix}@$$HOSTNAME" in test, (
        f"{name}: healthcheck must check {prefix}@$$HOSTNAME (the -n {node} of its command): {test}"
    )


def test_every_declared_queue_is_consumed_by_some_worker_service() -> None:
    consumed = {q for name in WORKERS for q in consumed_queues(service(name)["command"])}
    declared = {queue.value for queue in QueueName}

    assert consumed == declared, (
        f"queues nobody consumes: {sorted(declared - consumed)}; "
        f"consumed but undeclared: {sorted(consumed - declared)}"
    )


def test_redis_writes_an_append_only_file_fsynced_every_second() -> None:
    args = argv(service("redis")["command"])

    assert option(args, "--appendonly") == "yes", f"redis must run with --appendonly yes: {args}"
    assert option(args, "--appendfsync") == "everysec", f"redis should fsync everysec: {args}"


def test_flower_refuses_to_start_without_credentials() -> None:
    flower = service("flower")
    credentials = flower.get("environment", {}).get("TASKYARD_FLOWER_BASIC_AUTH", "")

    assert re.fullmatch(r"\$\{TASKYARD_FLOWER_BASIC_AUTH:\?[^}]+\}", credentials), (
        "flower must take TASKYARD_FLOWER_BASIC_AUTH from ${TASKYARD_FLOWER_BASIC_AUTH:?message} "
        f"so compose stops when it is unset; got {credentials!r}"
    )
    assert argv(flower["command"])[:2] == ["taskyard", "flower"], (
        "flower must start through `taskyard flower`, which refuses to run without auth"
    )


def test_every_app_service_runs_the_one_image() -> None:
    build = service(ONE_SHOT).get("build") or {}
    assert build.get("dockerfile") == DOCKERFILE, f"{ONE_SHOT} should build {DOCKERFILE}: {build}"
    reference = (service(ONE_SHOT).get("image"), build)

    different = {
        name: (service(name).get("image"), service(name).get("build"))
        for name in PROCFILE
        if (service(name).get("image"), service(name).get("build")) != reference
    }

    assert not different, f"services not on the image of {ONE_SHOT} {reference}: {different}"


@pytest.mark.parametrize("name", list(PROCFILE))
def test_app_service_starts_after_healthy_stores_and_a_finished_migration(name: str) -> None:
    depends_on = service(name).get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on must be a mapping with conditions"
    expected = {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        ONE_SHOT: "service_completed_successfully",
    }

    for dependency, condition in expected.items():
        actual = (depends_on.get(dependency) or {}).get("condition")
        assert actual == condition, f"{name}: depends_on.{dependency}: {actual!r} != {condition!r}"


def test_migrations_run_once_after_postgres_is_healthy() -> None:
    migrate = service(ONE_SHOT)

    assert argv(migrate["command"]) == ["taskyard", "db", "upgrade"]
    assert migrate.get("restart") == "no", "the one-shot migrate service must not restart"
    condition = migrate.get("depends_on", {}).get("postgres", {}).get("condition")
    assert condition == "service_healthy", f"migrate waits for postgres as {condition!r}"


@pytest.mark.parametrize("name", [name for name in SERVICES if name != ONE_SHOT])
def test_long_running_service_restarts_and_is_health_checked(name: str) -> None:
    spec = service(name)

    assert spec.get("restart") in RESTARTING, f"{name}: restart is {spec.get('restart')!r}"
    assert (spec.get("healthcheck") or {}).get("test"), f"service {name!r} has no healthcheck"


def test_dockerfile_runs_as_a_non_root_user() -> None:
    lines = [line.strip() for line in (ROOT / DOCKERFILE).read_text().splitlines()]
    final_stage = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    users = [line.split()[1] for line in lines[final_stage:] if line.upper().startswith("USER ")]

    assert users, f"{DOCKERFILE}: the final stage has no USER line, so it runs as root"
    user = users[-1].split(":", 1)[0]
    assert user not in {"root", "0"}, f"{DOCKERFILE}: the final stage runs as {users[-1]!r}"


@pytest.mark.parametrize("name", ["beat", "dispatcher", "flower"])
def test_singleton_style_services_run_their_procfile_program(name: str) -> None:
    # The same program with the same scheduler: a compose beat without `-S` would fall back to
    # Celery's file scheduler and fire every entry once per replica.
    procfile_args = argv(PROCFILE[name])
    compose_args = argv(service(name)["command"])
    assert compose_args[:2] == procfile_args[:2]
    assert option(compose_args, "-S") == option(procfile_args, "-S")


def test_prometheus_scrapes_every_process_that_exports_and_loads_the_alerting_rules() -> None:
    # Every Procfile process but the API (its own target) and Flower exports on the port
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    (discovery,) = jobs["taskyard-workers"]["dns_sd_configs"]
    exporting = set(PROCFILE) - {"api", "flower"}
    assert set(discovery["names"]) == exporting
    assert discovery["port"] == int(
        service("worker-default")["environment"]["TASKYARD_METRICS_PORT"]
    )
    # and the rules it names are mounted beside its configuration
    mounts = set(service("prometheus")["volumes"])
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    for rules in config["rule_files"]:
        assert f"./deploy/prometheus/{rules}:/etc/prometheus/{rules}:ro" in mounts
