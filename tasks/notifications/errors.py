"""What can go wrong with a notification template or channel. Each error is of a kind in
``workers/errors.py`` (``Invalid``, ``NotFound``, ...), whose one table gives the API's status and
the CLI's exit code."""

from __future__ import annotations

from workers.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    SealingUnavailable,
    UpstreamFailed,
)


class InvalidTemplate(Invalid):
    """A template does not validate: its name, a text over its limit, its sample data, or a
    part that does not render against the sample data (the details name the part and line)."""

    code = "invalid_template"


class TemplateNotFound(NotFound):
    """No template has that id or name."""

    code = "template_not_found"


class TemplateConflict(Conflict):
    """A template with that name exists already."""

    code = "template_conflict"


class RenderError(Invalid):
    """A template part did not render against the data given; ``reason`` is what a delivery
    records as its error."""

    code = "template_render_failed"

    def __init__(self, part: str, problem: str, line: int | None = None) -> None:
        where = f"{part}, line {line}" if line is not None else part
        super().__init__(f"{where}: {problem}", {"part": part, "line": line, "message": problem})
        self.part = part
        self.line = line
        self.problem = problem

    @property
    def reason(self) -> str:
        """The one line a delivery records: the part, the line and what went wrong."""
        return self.message


class InvalidChannel(Invalid):
    """A channel's name or settings do not validate."""

    code = "invalid_channel"


class OutboundRefused(InvalidChannel):
    """A channel's target resolves to an address outbound sends may not reach."""

    code = "outbound_refused"


class ChannelNotFound(NotFound):
    """No channel has that id or name."""

    code = "channel_not_found"


class ChannelConflict(Conflict):
    """Another channel has that name."""

    code = "channel_conflict"


class SecretsUnreadable(SealingUnavailable):
    """A channel's sealed secrets cannot be opened with the configured keys."""

    code = "channel_secrets_unreadable"


class ChannelTestFailed(UpstreamFailed):
    """A channel's test message was not delivered; ``details`` holds the outcome."""

    code = "channel_test_failed"


class InvalidNotification(Invalid):
    """A notification request does not validate (its channels, message, data or timing)."""

    code = "invalid_notification"


class ChannelNotAllowed(Forbidden):
    """The caller may not send to one of the channels the notification resolved to."""

    code = "forbidden"


class DeliveryNotFound(NotFound):
    """No delivery has that id."""

    code = "delivery_not_found"


class DeliveryStateConflict(Conflict):
    """The delivery is not in a status that allows the operation (replay, cancel)."""

    code = "delivery_state_conflict"


class InvalidSubscription(Invalid):
    """A subscription does not validate: its name, event, match, channels or template."""

    code = "invalid_subscription"


class SubscriptionNotFound(NotFound):
    """No subscription has that id or name."""

    code = "subscription_not_found"


class SubscriptionConflict(Conflict):
    """A subscription with that name exists already."""

    code = "subscription_conflict"
