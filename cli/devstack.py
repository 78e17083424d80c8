"""Preparing the embedded dev stack: ports, broker, store, admin key, Flower credentials, and
the channel to its mail catcher."""

from __future__ import annotations

import os
import secrets
import socket
import sys
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import redis
from pydantic import SecretStr

from cli.devmail import DEV_MAIL_CHANNEL, ensure_dev_mail
from cli.output import CliError, UsageProblem, masked, note
from cli.paths import read_secret, write_secret
from tasks.alerts import shipped
from workers.embedded_redis import start_embedded_redis
from workers.redis_client import redis_from_url
from workers.settings import get_settings
from workers.stackfile import (
    STACK_FILE,
    VAR_DIR_ENV,
    StackFileBusy,
    dotenv_line,
    held,
    is_live,
)
from workers.store import keys as key_store
from workers.store.engine import dispose_engines
from workers.store.migrate import current_revision, upgrade

ADMIN_KEY_FILE = "dev-admin.key"
FLOWER_CREDENTIALS_FILE = "flower-credentials"
ADMIN_SCOPE = "admin"
#: Channels of the dev stack may reach loopback receivers (a local sink or mail catcher).
DEV_OUTBOUND_ALLOW = "127.0.0.0/8,::1,localhost"
LOOPBACK = "127.0.0.1"
#: A unix socket path must fit in ``sun_path`` (108 bytes on Linux, with the NUL).
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class Endpoint:
    """Where a stack process listens, and the option that changes its port."""

    host: str
    port: int
    flag: str

    @property
    def variable(self) -> str:
        """The environment variable for the port (``--api-port``: ``TASKYARD_API_PORT``)."""
        return f"TASKYARD_{self.flag.removeprefix('--').replace('-', '_').upper()}"

    @property
    def url(self) -> str:
        """``http://host:port`` with a wildcard bind shown as the loopback address."""
        host = LOOPBACK if self.host in {"", "0.0.0.0", "::"} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class Stack:
    """Everything the stack's processes share, decided before any of them starts."""

    root: Path
    var_dir: Path
    api: Endpoint
    flower: Endpoint
    mail: Endpoint
    broker_url: str
    database_url: str
    revision: str | None
    admin_key: str
    flower_auth: str
    embedded_broker: bool

    def environment(self) -> dict[str, str]:
        """The environment every Procfile process runs with."""
        env = dict(os.environ)
        env.update(
            TASKYARD_API_PORT=str(self.api.port),
            TASKYARD_FLOWER_PORT=str(self.flower.port),
            TASKYARD_MAIL_PORT=str(self.mail.port),
            TASKYARD_VAR_DIR=str(self.var_dir),
            TASKYARD_BROKER_URL=self.broker_url,
            TASKYARD_DATABASE_URL=self.database_url,
            TASKYARD_FLOWER_BASIC_AUTH=self.flower_auth,
            PYTHONUNBUFFERED="1",
            # The Procfile names `uvicorn`, `celery` and `taskyard`: find this environment's.
            PATH=os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")])),
        )
        env.setdefault("TASKYARD_LOG_FORMAT", "text")
        return env


def check_ports(*endpoints: Endpoint) -> None:
    """Fail fast, naming the port and the variable that moves it, when a port is taken."""
    for position, endpoint in enumerate(endpoints):
        for other in endpoints[:position]:
            if other.port == endpoint.port:
                raise UsageProblem(
                    f"{other.variable} and {endpoint.variable} ({other.flag}, {endpoint.flag}) "
                    f"are both {endpoint.port}; pick two ports"
                )
    for endpoint in endpoints:
        if not _bindable(endpoint.host, endpoint.port):
            free = _free_port_after(endpoint)
            raise CliError(
                f"port {endpoint.port} on {endpoint.host} is already in use; stop what holds it, "
                f"or pick another: `{endpoint.variable}={free} make run` "
                f"(or `taskyard dev {endpoint.flag} {free}`)"
            )


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _next_free_port(endpoint: Endpoint, avoid: frozenset[int] = frozenset()) -> int | None:
    """The first free port above ``endpoint``'s, not in ``avoid``; ``None`` when none is near."""
    for port in range(endpoint.port + 1, min(endpoint.port + 100, 65_536)):
        if port not in avoid and _bindable(endpoint.host, port):
            return port
    return None


def _free_port_after(endpoint: Endpoint) -> str:
    """The next free port above a taken one, to suggest; ``N`` when none is near."""
    port = _next_free_port(endpoint)
    return "N" if port is None else str(port)


def settle_mail_port(mail: Endpoint, others: tuple[Endpoint, ...]) -> Endpoint:
    """Where the mail catcher listens when its port was not chosen: the usual one, else (taken,
    say by another catcher) the next free one above it, else one the system picks. Nothing
    outside the stack needs that port: the dev-mail channel follows it."""
    avoid = frozenset(other.port for other in others)
    if mail.port not in avoid and _bindable(mail.host, mail.port):
        return mail
    port = _next_free_port(mail, avoid)
    if port is None:
        with socket.socket() as probe:
            probe.bind((mail.host, 0))
            port = int(probe.getsockname()[1])
    return replace(mail, port=port)


def _start_broker(var_dir: Path, cleanup: ExitStack) -> str:
    directory = var_dir / "redis"
    socket_path = directory / "redis.sock"
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise UsageProblem(f"{socket_path} is too long for a unix socket; use a shorter --var-dir")
    if socket_path.exists() and _answers(socket_path):
        raise CliError(
            f"a Redis already serves {socket_path} (another `taskyard dev` on this var dir?); "
            "stop it or choose another --var-dir"
        )
    server = start_embedded_redis(directory, appendonly=True, own_session=True)
    cleanup.callback(server.stop)
    return server.url()


def _answers(socket_path: Path) -> bool:
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def check_broker(url: str) -> None:
    """Fail fast when a configured Redis broker does not answer (AMQP is left to Celery)."""
    client = redis_from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        raise CliError(
            f"the broker at {masked(url)} is unreachable (TASKYARD_BROKER_URL); start it, "
            "or unset TASKYARD_BROKER_URL to use an embedded Redis"
        ) from None
    finally:
        client.close()


def ensure_admin_key(var_dir: Path) -> str:
    """The saved admin key when it still authenticates, else a new one (saved 0600)."""
    path = var_dir / ADMIN_KEY_FILE
    saved = read_secret(path)
    if saved is not None:
        record = key_store.authenticate(saved)
        if record is not None and ADMIN_SCOPE in record.scopes:
            return saved
    issued = key_store.create_key(f"dev-admin-{secrets.token_hex(3)}", [ADMIN_SCOPE])
    write_secret(path, issued.secret)
    return issued.secret


def ensure_flower_auth(var_dir: Path, configured: SecretStr | None) -> str:
    """``user:password`` for Flower: the configured one, else the saved or a new one (0600)."""
    if configured is not None:
        return configured.get_secret_value()
    path = var_dir / FLOWER_CREDENTIALS_FILE
    saved = read_secret(path)
    if saved is not None and ":" in saved:
        return saved
    created = f"admin:{secrets.token_urlsafe(18)}"
    write_secret(path, created)
    return created


def prepare(
    root: Path, var_dir: Path, api: Endpoint, flower: Endpoint, mail: Endpoint, cleanup: ExitStack
) -> Stack:
    """Start the broker when none is configured, migrate the store, ensure the secrets and the
    dev-mail channel."""
    var_dir.mkdir(parents=True, exist_ok=True)
    embedded = not os.environ.get("TASKYARD_BROKER_URL")
    if embedded:
        os.environ["TASKYARD_BROKER_URL"] = _start_broker(var_dir, cleanup)
    if not os.environ.get("TASKYARD_DATABASE_URL"):
        os.environ["TASKYARD_DATABASE_URL"] = f"sqlite:///{var_dir / 'taskyard.db'}"
    os.environ.setdefault("TASKYARD_LOG_FORMAT", "text")
    os.environ.setdefault("TASKYARD_OUTBOUND_ALLOW", DEV_OUTBOUND_ALLOW)
    os.environ[VAR_DIR_ENV] = str(var_dir)
    get_settings.cache_clear()
    dispose_engines()
    settings = get_settings()
    if not embedded and settings.broker_family == "redis":
        check_broker(settings.broker_url)
    upgrade(settings.database_url)
    stack = Stack(
        root=root,
        var_dir=var_dir,
        api=api,
        flower=flower,
        mail=mail,
        broker_url=settings.broker_url,
        database_url=settings.database_url,
        revision=current_revision(settings.database_url),
        admin_key=ensure_admin_key(var_dir),
        flower_auth=ensure_flower_auth(var_dir, settings.flower_basic_auth),
        embedded_broker=embedded,
    )
    problem = ensure_dev_mail(mail.host, mail.port)
    if problem is not None:
        note(f"taskyard dev: {problem}")
    shipped.install((DEV_MAIL_CHANNEL,) if problem is None else ())
    dispose_engines()
    return stack


def check_not_running(var_dir: Path) -> None:
    """Refuse a second stack on one var directory, before anything starts."""
    if is_live(var_dir / STACK_FILE):
        raise CliError(
            f"a dev stack already runs on {var_dir} (`taskyard dev` holds {STACK_FILE} there); "
            "use it, or stop it with Ctrl-C in its terminal first"
        )


def publish_settings(stack: Stack, cleanup: ExitStack) -> Path:
    """Write ``<var dir>/dev.env`` for what starts beside the stack; hold it while it runs."""
    path = stack.var_dir / STACK_FILE
    values = {
        "TASKYARD_BROKER_URL": stack.broker_url,
        "TASKYARD_DATABASE_URL": stack.database_url,
        "TASKYARD_REDIS_URL": os.environ.get("TASKYARD_REDIS_URL", ""),
        "TASKYARD_VAR_DIR": str(stack.var_dir),
        "TASKYARD_API_URL": stack.api.url,
        # So that `taskyard channels test dev-mail` beside the stack may reach its catcher.
        "TASKYARD_OUTBOUND_ALLOW": os.environ.get("TASKYARD_OUTBOUND_ALLOW", ""),
    }
    lines = [
        f"# The dev stack `taskyard dev` (pid {os.getpid()}) runs from {stack.root}.",
        "# Processes started in that directory read these settings unless the environment sets",
        "# TASKYARD_BROKER_URL, TASKYARD_DATABASE_URL or TASKYARD_REDIS_URL. The stack locks",
        "# this file while it runs; an unlocked one is left from a stack that stopped.",
        *(dotenv_line(name, value) for name, value in values.items() if value),
    ]
    write_secret(path, "\n".join(lines))  # 0600: a configured store URL may hold a password
    try:
        cleanup.enter_context(held(path))
    except StackFileBusy:
        raise CliError(
            f"another `taskyard dev` holds {path}; stop it, or choose another --var-dir"
        ) from None
    return path
