"""What can go wrong with a notification template or channel (the API maps these in
``api/errors.py``, the CLI in ``cli/failures.py``)."""

from __future__ import annotations

from workers.errors import SealingUnavailable, TaskyardError


class InvalidTemplate(TaskyardError):
    """A template does not validate: its name, a text over its limit, its sample data, or a
    part that does not render against the sample data (the details name the part and line)."""

    code = "invalid_template"


class TemplateNotFound(TaskyardError):
    """No template has that id or name."""

    code = "template_not_found"


class TemplateConflict(TaskyardError):
    """A template with that name exists already."""

    code = "template_conflict"


class RenderError(TaskyardError):
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


class SecretsUnreadable(SealingUnavailable):
    """A channel's sealed secrets cannot be opened with the configured keys."""

    code = "channel_secrets_unreadable"


class ChannelTestFailed(TaskyardError):
    """A channel's test message was not delivered; ``details`` holds the outcome."""

    code = "channel_test_failed"


class InvalidNotification(TaskyardError):
    """A notification request does not validate (its channels, message, data or timing)."""

    code = "invalid_notification"


class ChannelNotAllowed(TaskyardError):
    """The caller may not send to one of the channels the notification resolved to."""

    code = "forbidden"


class DeliveryNotFound(TaskyardError):
    """No delivery has that id."""

    code = "delivery_not_found"


class DeliveryStateConflict(TaskyardError):
    """The delivery is not in a status that allows the operation (replay, cancel)."""

    code = "delivery_state_conflict"


class InvalidSubscription(TaskyardError):
    """A subscription does not validate: its name, event, match, channels or template."""

    code = "invalid_subscription"


class SubscriptionNotFound(TaskyardError):
    """No subscription has that id or name."""

    code = "subscription_not_found"


class SubscriptionConflict(TaskyardError):
    """A subscription with that name exists already."""

    code = "subscription_conflict"
