"""Channels in the store: created, listed a page at a time, edited and removed by operators;
secrets sealed on the way in and opened only to send; every row resealed by a rekey."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tasks.notifications.channels import (
    SECRET_FIELDS,
    ChannelConfig,
    check_description,
    check_name,
    join,
    merged,
    split,
)
from tasks.notifications.errors import ChannelConflict, ChannelNotFound, SecretsUnreadable
from tasks.notifications.sealing import reseal, seal, unseal
from tasks.notifications.targets import check_target
from workers.store.engine import session_scope
from workers.store.lookup import NamedRows, name_taken
from workers.store.models import Channel
from workers.store.resealing import ResealReport, reseal_rows
from workers.store.types import utcnow

#: The fields an operator may change (``kind`` is the channel's nature: add another instead).
EDITABLE = frozenset({"name", "config", "description"})


def config_of(record: Channel) -> ChannelConfig:
    """The channel's full settings, secrets opened (to send with, never to show)."""
    return join(record.kind, dict(record.config), unseal(record.secret_config, record.sealed))


def secret_names(record: Channel) -> list[str]:
    """The names of the secrets the channel holds (never their values); those its kind may
    hold when the configured keys cannot open them."""
    try:
        return sorted(unseal(record.secret_config, record.sealed))
    except SecretsUnreadable:
        return sorted(SECRET_FIELDS[record.kind])


CHANNELS = NamedRows(
    Channel, ChannelNotFound, "channel", name_taken(ChannelConflict, "a channel"), EDITABLE
)
#: A page of channels, newest first; one by id; one by name (:class:`ChannelNotFound`).
list_channels, get_channel, find_channel = CHANNELS.page, CHANNELS.get, CHANNELS.find


def create_channel(name: str, config: ChannelConfig, description: str | None = None) -> Channel:
    """Store a new channel after checking its target; :class:`ChannelConflict` when the name
    is taken, :class:`~tasks.notifications.errors.OutboundRefused` for a refused target."""
    check_name(name)
    check_description(description)
    check_target(config)
    public, secrets = split(config)
    stored, sealed = seal(secrets)
    record = Channel(
        name=name,
        kind=config.kind,
        config=public,
        secret_config=stored,
        sealed=sealed,
        description=description,
    )
    return CHANNELS.add(record)


def all_channels() -> list[Channel]:
    """Every channel, by name."""
    with session_scope() as session:
        return list(session.scalars(select(Channel).order_by(Channel.name)))


def _apply(session: Session, record: Channel, changes: Mapping[str, Any]) -> None:
    if "name" in changes and changes["name"] != record.name:
        name = check_name(changes["name"])
        if session.scalar(select(Channel.id).where(Channel.name == name)):
            raise CHANNELS.taken(name)
        record.name = name
    if "description" in changes:
        record.description = check_description(changes["description"])
    if changes.get("config"):
        config = merged(config_of(record), dict(changes["config"]))
        check_target(config)
        public, secrets = split(config)
        record.config = public
        record.secret_config, record.sealed = seal(secrets)
    record.updated_at = utcnow()


def update_channel(channel_id: uuid.UUID, changes: Mapping[str, Any]) -> Channel:
    """Apply ``changes`` (fields of :data:`EDITABLE`; ``config`` holds only the settings to
    change, a secret left out is kept) to a channel."""
    CHANNELS.check_editable(changes)
    try:
        with session_scope() as session, CHANNELS.editing(session, channel_id, changes) as record:
            _apply(session, record, changes)
    except IntegrityError:
        raise CHANNELS.taken(str(changes.get("name"))) from None
    return record


def delete_channel(channel_id: uuid.UUID) -> None:
    """Remove a channel."""
    CHANNELS.remove(channel_id)


def count_channels() -> int:
    """How many channels there are (a rekey's total)."""
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Channel)) or 0)


def _reseal_channel(record: Channel) -> bool:
    was_plain = not record.sealed
    record.secret_config = reseal(record.secret_config, record.sealed)
    record.sealed = True
    return was_plain


def rekey(progress: Callable[[int], None] | None = None) -> ResealReport:
    """Reseal every channel's secrets under the first key of ``TASKYARD_SECRET_KEYS``, a
    batch per transaction (safe to run again; plain rows are sealed too)."""
    return reseal_rows(Channel, [Channel.id], _reseal_channel, progress=progress)
