"""A breaker's endpoint names where a channel sends, and never a secret of it."""

from __future__ import annotations

import pytest

from tasks.notifications.channels import parse_config
from tasks.notifications.guards import endpoint_for, endpoint_of


@pytest.mark.parametrize(
    ("kind", "public", "secrets", "endpoint"),
    [
        ("email", {"host": "SMTP.example.com", "port": 587}, {"password": "pw"},
         "smtp.example.com:587"),
        ("email", {"host": "::1", "port": 1025}, {}, "[::1]:1025"),
        ("webhook", {"url": "https://Hooks.example/t/SECRET-PATH?k=SECRET"}, {"secret": "s"},
         "https://hooks.example:443"),
        ("webhook", {"url": "http://127.0.0.1:8025/in"}, {}, "http://127.0.0.1:8025"),
        ("slack", {}, {"url": "https://hooks.slack.example/services/T0/B0/SECRET"},
         "hooks.slack.example"),
        ("apprise", {}, {"url": "mailto://user:SECRET@mail.example.com"},
         "mailto://mail.example.com"),
        ("apprise", {}, {"url": "json://localhost:8080/SECRET"}, "json://localhost"),
        ("apprise", {}, {"url": "tgram://123456789:SECRETtoken/-100"}, "tgram://"),
        ("apprise", {}, {"url": "pover://userkey@SECRETtoken"}, "pover://"),
        ("apprise", {}, {"url": "discord://4174216298/SECRET"}, "discord://"),
    ],
)  # fmt: skip
def test_the_endpoint_is_where_a_channel_sends_without_its_secrets(
    kind: str, public: dict[str, object], secrets: dict[str, str], endpoint: str
) -> None:
    found = endpoint_of(kind, public, secrets)

    assert found == endpoint
    assert "secret" not in found.lower()


def test_a_channels_settings_name_its_endpoint() -> None:
    config = parse_config({"kind": "slack", "url": "https://hooks.slack.example/services/X/Y/Z"})

    assert endpoint_for(config) == "hooks.slack.example"
