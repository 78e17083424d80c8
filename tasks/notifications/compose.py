"""The message a delivery sends: its notification rendered (a stored template against the
notification's data, or the literal subject and text), or a digest of several."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import escape

from tasks.notifications.errors import RenderError, TemplateNotFound
from tasks.notifications.message import Message
from tasks.notifications.rendering import Rendered
from tasks.notifications.template_store import find_template, render_for_send
from workers.store.models import Notification, Template

#: Between the parts of a digest's text.
DIGEST_SEPARATOR = "\n\n---\n\n"


class Unsendable(Exception):
    """The delivery's message cannot be made; ``reason`` is the one line it records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def rendered(notification: Notification, template: Template | None = None) -> Rendered:
    """One notification's message; :class:`Unsendable` when its template is gone or does not
    render against its data (the reason names the part and line). ``template`` is its
    template when already read, else it is looked up by name."""
    name = notification.template_name
    if name is None:
        return Rendered(notification.subject or "", notification.text or "", notification.html)
    try:
        record = template if template is not None else find_template(name)
        return render_for_send(record, notification.data)
    except TemplateNotFound:
        raise Unsendable(f"template {name!r} no longer exists") from None
    except RenderError as error:
        raise Unsendable(f"template {name!r}: {error.reason}") from None


def compose(
    message_key: str, notifications: Sequence[Notification], template: Template | None = None
) -> Message:
    """The message for ``notifications`` (one, or a digest's members in order), carrying the
    delivery's ``message_key``; ``template`` is the only notification's, when already read.
    A digest's subject counts its members and names the first; its text (and HTML, when every
    member has one) joins theirs; its data lists theirs."""
    if template is not None and len(notifications) != 1:
        raise ValueError("a template already read is one notification's")
    parts = [rendered(notification, template) for notification in notifications]
    if len(parts) == 1:
        (only,) = parts
        data = dict(notifications[0].data)
        return Message(only.subject, only.text, only.html, data, message_key)
    subject = f"{len(parts)} notifications: {parts[0].subject}"
    text = DIGEST_SEPARATOR.join(f"{part.subject}\n\n{part.text}" for part in parts)
    html = None
    if all(part.html is not None for part in parts):
        html = "<hr>".join(f"<h3>{_escaped(part.subject)}</h3>{part.html}" for part in parts)
    data = {"digest": [dict(notification.data) for notification in notifications]}
    return Message(subject, text, html, data, message_key)


def _escaped(text: str) -> str:
    return str(escape(text))
