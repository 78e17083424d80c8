"""The dev stack's mail: the ``dev-mail`` channel pointing at its mail catcher, and a sample
``welcome`` template sending there, made when missing so a first email needs no account.

Both go through the channel and template stores as an operator's would. An existing
``dev-mail`` is pointed at the catcher again when its port moved (its sender and recipients are
left as they are); an existing ``welcome`` is left as it is.
"""

from __future__ import annotations

from tasks.notifications import store, template_store
from tasks.notifications.channels import ChannelKind, parse_config
from tasks.notifications.errors import ChannelNotFound, OutboundRefused, TemplateNotFound
from tasks.notifications.templates import TemplateSpec

DEV_MAIL_CHANNEL = "dev-mail"
DEV_MAIL_SENDER = "taskyard@localhost"
DEV_MAIL_RECIPIENT = "dev@localhost"
DEV_MAIL_DESCRIPTION = "The mail catcher of `taskyard dev`: every message lands in var/mail/."
WELCOME = TemplateSpec(
    name="welcome",
    subject="Welcome to Taskyard, {{ name }}",
    text=(
        "Hello {{ name }},\n\n"
        "this email went through the dev-mail channel to the mail catcher of `taskyard dev`,\n"
        "which keeps every message it receives as one file in var/mail/.\n\n"
        "-- Taskyard\n"
    ),
    html=(
        "<p>Hello {{ name }},</p>\n"
        "<p>this email went through the <code>dev-mail</code> channel to the mail catcher of "
        "<code>taskyard dev</code>, which keeps every message it receives as one file in "
        "<code>var/mail/</code>.</p>\n"
        "<p>&mdash; Taskyard</p>\n"
    ),
    sample_data={"name": "Ada"},
    default_channels=(DEV_MAIL_CHANNEL,),
)


def ensure_dev_mail_channel(host: str, port: int) -> str | None:
    """``dev-mail``, an email channel to the catcher on ``host:port`` (no TLS, no login), made
    or pointed there again; a note saying why not when it cannot be."""
    target = {"host": host, "port": port, "security": "none"}
    try:
        record = store.find_channel(DEV_MAIL_CHANNEL)
    except ChannelNotFound:
        document = {"kind": ChannelKind.EMAIL.value, **target, "sender": DEV_MAIL_SENDER,
                    "recipients": [DEV_MAIL_RECIPIENT]}  # fmt: skip
        config = parse_config(document)
        try:
            store.create_channel(DEV_MAIL_CHANNEL, config, DEV_MAIL_DESCRIPTION)
        except OutboundRefused as error:
            return f"channel {DEV_MAIL_CHANNEL!r} not made: {error}"
        return None
    if record.kind != ChannelKind.EMAIL:
        return (f"channel {DEV_MAIL_CHANNEL!r} is a {record.kind} channel, left as it is; "
                f"remove it and restart to get the mail catcher's")  # fmt: skip
    changes = {name: value for name, value in target.items() if record.config.get(name) != value}
    if changes:
        try:
            store.update_channel(record.id, {"config": changes})
        except OutboundRefused as error:
            return f"channel {DEV_MAIL_CHANNEL!r} not pointed at the mail catcher: {error}"
    return None


def ensure_welcome_template() -> None:
    """The sample ``welcome`` template (default channel ``dev-mail``), made when missing."""
    try:
        template_store.find_template(WELCOME.name)
    except TemplateNotFound:
        template_store.create_template(WELCOME)


def ensure_dev_mail(host: str, port: int) -> str | None:
    """The ``dev-mail`` channel and the ``welcome`` template; a note when the channel could not
    be made or corrected."""
    problem = ensure_dev_mail_channel(host, port)
    ensure_welcome_template()
    return problem
