"""The network target of each channel kind, checked against the outbound rules."""

from __future__ import annotations

from urllib.parse import urlsplit

from tasks.notifications import channels
from tasks.notifications.errors import InvalidChannel
from tasks.notifications.outbound import TargetUnresolved, checked_addresses

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _url_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)


def target_of(config: channels.ChannelConfig) -> tuple[str, int] | None:
    """The (host, port) a channel connects to, or ``None`` when its URL names no host
    (an Apprise service whose URL holds tokens where a host would be)."""
    if isinstance(config, channels.EmailConfig):
        return config.host, config.port
    if isinstance(config, channels.WebhookConfig):
        return _url_target(config.url)
    if isinstance(config, channels.SlackConfig):
        return _url_target(config.url.get_secret_value())
    assert isinstance(config, channels.AppriseConfig)
    plugin = channels.apprise_plugin(config.url.get_secret_value())
    host = getattr(plugin, "host", None)
    port = getattr(plugin, "port", None)
    if not isinstance(host, str) or not host:
        return None
    return host, port if isinstance(port, int) else 443


def check_target(config: channels.ChannelConfig, *, when_saving: bool = True) -> None:
    """Refuse a target outbound sends may not reach (:class:`OutboundRefused`). A host that
    does not resolve is refused when saving, except for Apprise, whose URLs often carry a
    token where a host would be (Apprise then connects to the service's own host)."""
    target = target_of(config)
    if target is None:
        return
    try:
        checked_addresses(*target)
    except TargetUnresolved as error:
        if isinstance(config, channels.AppriseConfig):
            return
        if when_saving:
            message = f"{error.message}; check the host name"
            raise InvalidChannel(message, [{"field": "config", "message": message}]) from None
        raise
