"""Channel test helpers: settings for loopback targets and sealed secrets, webhook channels on
a sink, raw rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from tasks.notifications import store
from tasks.notifications.channels import parse_config
from tests.support.sinks import HttpSink
from workers.sealing import new_key
from workers.settings import get_settings
from workers.store.engine import session_scope

#: What `taskyard dev` and the tests open: loopback only.
LOOPBACK = "127.0.0.0/8,::1,localhost"


@contextmanager
def channel_settings(**env: str | None) -> Iterator[pytest.MonkeyPatch]:
    """Within, loopback targets are allowed and ``env`` applies (``None`` unsets a variable);
    the settings are read afresh on entry and exit. Yields the patch for further changes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASKYARD_OUTBOUND_ALLOW", LOOPBACK)
        for name, value in env.items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield patch
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()


@contextmanager
def webhook_channels(sink: HttpSink, *names: str, **env: str | None) -> Iterator[None]:
    """Within ``channel_settings(**env)``, a webhook channel per name, posting to
    ``sink.url/<name>`` and signed with the sink's secret."""
    with channel_settings(**env):
        for name in names:
            config = {"kind": "webhook", "url": f"{sink.url}/{name}", "secret": sink.secret}
            store.create_channel(name, parse_config(config))
        yield


#: The data key (``TASKYARD_SECRET_KEYS``) of :func:`data_keyed`.
DATA_KEY = new_key()


@contextmanager
def data_keyed() -> Iterator[pytest.MonkeyPatch]:
    """Within, :data:`DATA_KEY` seals (and loopback targets are allowed)."""
    with channel_settings(TASKYARD_SECRET_KEYS=DATA_KEY) as patch:
        yield patch


def use_keys(patch: pytest.MonkeyPatch, *keys: str) -> None:
    """Set ``TASKYARD_SECRET_KEYS`` to ``keys`` (none: unset) and reread the settings."""
    if keys:
        patch.setenv("TASKYARD_SECRET_KEYS", ",".join(keys))
    else:
        patch.delenv("TASKYARD_SECRET_KEYS", raising=False)
    get_settings.cache_clear()


def raw_row(name: str) -> tuple[str, str, bool]:
    """A channel's stored ``config`` (as text), ``secret_config`` and ``sealed``, read by SQL."""
    query = text("SELECT config, secret_config, sealed FROM channels WHERE name = :name")
    with session_scope() as session:
        config, secrets, sealed = session.execute(query, {"name": name}).one()
    return str(config), str(secrets), bool(sealed)
