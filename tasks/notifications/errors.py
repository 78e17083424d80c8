"""What can go wrong with a channel (the API maps these in ``api/errors.py``, the CLI in
``cli/failures.py``)."""

from __future__ import annotations

from workers.errors import TaskyardError


class InvalidChannel(TaskyardError):
    """A channel's name or settings do not validate."""

    code = "invalid_channel"


class OutboundRefused(InvalidChannel):
    """A channel's target resolves to an address outbound sends may not reach."""

    code = "outbound_refused"


class ChannelNotFound(TaskyardError):
    """No channel has that id or name."""

    code = "channel_not_found"


class ChannelConflict(TaskyardError):
    """Another channel has that name."""

    code = "channel_conflict"


class SecretsUnreadable(TaskyardError):
    """A channel's sealed secrets cannot be opened with the configured keys."""

    code = "channel_secrets_unreadable"


class ChannelTestFailed(TaskyardError):
    """A channel's test message was not delivered; ``details`` holds the outcome."""

    code = "channel_test_failed"
