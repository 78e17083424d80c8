"""Channel settings: strict per kind, no header injection, secrets split off and kept on
edits; secrets sealed and unsealed with rotating keys; secret fragments redacted."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tasks.notifications.channels import (
    EmailConfig,
    check_name,
    join,
    merged,
    parse_config,
    split,
)
from tasks.notifications.errors import InvalidChannel, SecretsUnreadable
from tasks.notifications.sealing import new_key, reseal, seal, unseal
from workers.errors import SettingsError
from workers.observability.redaction import fragments, redact, redacting
from workers.settings import get_settings, load_settings

SLACK = "https://hooks.slack.example/services/T000/B000/XXXXXXXXSECRET"
EMAIL = {"kind": "email", "host": "smtp.example.com", "port": 587, "sender": "ty@example.com",
         "recipients": ["ops@example.com"], "username": "ty",
         "password": "pw-12345678"}  # fmt: skip


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    made = [new_key(), new_key()]
    monkeypatch.setenv("TASKYARD_SECRET_KEYS", made[0])
    get_settings.cache_clear()
    yield made
    get_settings.cache_clear()


def use_keys(monkeypatch: pytest.MonkeyPatch, *keys: str) -> None:
    monkeypatch.setenv("TASKYARD_SECRET_KEYS", ",".join(keys))
    get_settings.cache_clear()


def test_each_kind_splits_into_public_settings_and_secrets() -> None:
    config = parse_config(EMAIL)
    public, secrets = split(config)

    assert secrets == {"password": "pw-12345678"}
    assert "password" not in public
    assert "pw-12345678" not in repr(config)
    assert join("email", public, secrets) == config
    assert split(parse_config({"kind": "slack", "url": SLACK}))[1] == {"url": SLACK}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({**EMAIL, "recipients": ["a@example.com\r\nBcc: evil@example.com"]}, "recipients.0"),
        ({**EMAIL, "sender": "ty@example.com\n"}, "sender"),
        ({**EMAIL, "port": "587"}, "port"),
        ({**EMAIL, "security": "ssl"}, "security"),
        ({**EMAIL, "recipients": []}, "recipients"),
        ({**EMAIL, "extra": 1}, "extra"),
        ({"kind": "webhook", "url": "ftp://x.example", "secret": "s" * 16}, "url"),
        ({"kind": "webhook", "url": "https://u:p@x.example", "secret": "s" * 16}, "url"),
        ({"kind": "webhook", "url": "https://x.example", "secret": "short"}, "secret"),
        ({"kind": "webhook", "url": "https://x.example", "secret": "s" * 15 + "\x00"}, "secret"),
        ({"kind": "apprise", "url": "nonsense://token-is-secret"}, "url"),
        ({"kind": "slack", "url": "https://h.example:99999/token-is-secret"}, "url"),
        ({"kind": "webhook", "url": "https://h.example:99999/", "secret": "s" * 16}, "url"),
        ({"kind": "pager"}, ""),
        ({**EMAIL, "rate_limit": "lots"}, "rate_limit"),
        ({**EMAIL, "rate_limit": "0/second"}, "rate_limit"),
        ({**EMAIL, "rate_limit": "1/second;5/minute"}, "rate_limit"),
        ({"kind": "slack", "url": SLACK, "rate_limit": 20}, "rate_limit"),
        ({"kind": "slack", "url": SLACK, "idempotent": "yes"}, "idempotent"),
    ],
)
def test_invalid_settings_name_the_field_and_never_the_secret(
    document: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidChannel) as raised:
        parse_config(document)

    assert raised.value.details[0]["field"] == f"config.{field}".rstrip(".")
    assert "token-is-secret" not in str(raised.value.details)


@pytest.mark.parametrize(
    "document",
    [
        EMAIL,
        {"kind": "webhook", "url": "https://x.example/hook", "secret": "s" * 16},
        {"kind": "slack", "url": SLACK},
        {"kind": "apprise", "url": "json://hooks.example/notify"},
    ],
)
def test_every_kind_takes_a_shared_rate_limit_and_says_whether_it_is_idempotent(
    document: dict[str, object],
) -> None:
    plain = parse_config(document)
    assert (plain.rate_limit, plain.idempotent) == (None, False)

    config = merged(plain, {"rate_limit": "100 per minute", "idempotent": True})
    public, _ = split(config)

    assert (public["rate_limit"], public["idempotent"]) == ("100 per minute", True)
    assert merged(config, {"rate_limit": None}).rate_limit is None


def test_names_follow_the_schedule_rule() -> None:
    assert check_name("ops-mail.eu:1@x") == "ops-mail.eu:1@x"
    for bad in ("", "-x", "a b", "x" * 201, "a\x00"):
        with pytest.raises(InvalidChannel, match="name"):
            check_name(bad)


def test_an_edit_keeps_secrets_it_does_not_name_and_may_not_change_the_kind() -> None:
    config = parse_config(EMAIL)

    edited = merged(config, {"port": 465, "security": "tls"})
    assert isinstance(edited, EmailConfig)
    assert split(edited)[1] == {"password": "pw-12345678"}
    assert (edited.port, edited.security) == (465, "tls")
    assert split(merged(config, {"password": None, "username": None}))[1] == {}
    with pytest.raises(InvalidChannel, match="cannot change a channel's kind"):
        merged(config, {"kind": "slack"})


def test_without_a_key_secrets_are_plain_json() -> None:
    stored, sealed = seal({"url": SLACK})

    assert not sealed
    assert SLACK in stored
    assert unseal(stored, sealed) == {"url": SLACK}


def test_sealed_secrets_rotate_to_a_new_key(
    keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = keys
    stored, sealed = seal({"url": SLACK})
    assert sealed
    assert "SECRET" not in stored

    use_keys(monkeypatch, new, old)
    rotated = reseal(stored, sealed)
    use_keys(monkeypatch, new)
    assert unseal(rotated, True) == {"url": SLACK}
    with pytest.raises(SecretsUnreadable, match="no key in TASKYARD_SECRET_KEYS opens"):
        unseal(stored, True)
    monkeypatch.delenv("TASKYARD_SECRET_KEYS")
    get_settings.cache_clear()
    with pytest.raises(SecretsUnreadable, match="TASKYARD_SECRET_KEYS is not set"):
        unseal(rotated, True)


def test_a_bad_key_is_named_by_position_not_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKYARD_SECRET_KEYS", f"{new_key()},not-a-real-key")

    with pytest.raises(SettingsError, match="key 2 is not a Fernet key") as raised:
        load_settings()
    assert "not-a-real-key" not in str(raised.value)


def test_fragments_of_a_secret_url_are_redacted_in_text_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert "/services/T000/B000/XXXXXXXXSECRET" in fragments([SLACK])
    assert redact("POST http://10.0.0.1/services/T000/B000/XXXXXXXXSECRET", [SLACK]) == (
        "POST http://10.0.0.1***"
    )
    caplog.set_level(logging.DEBUG)
    with redacting([SLACK]):
        logging.getLogger("urllib3.connectionpool").debug(
            '"POST %s" 200', SLACK.split(".example")[1]
        )
    logging.getLogger("urllib3.connectionpool").debug(
        "after: %s", "/services/T000/B000/XXXXXXXXSECRET"
    )

    assert "SECRET" not in caplog.records[0].getMessage()
    assert "SECRET" in caplog.records[1].getMessage()  # only while a send runs


def test_a_bad_allow_list_stops_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKYARD_OUTBOUND_ALLOW", "10.0.0.0/8,under_score")

    with pytest.raises(SettingsError, match="TASKYARD_OUTBOUND_ALLOW: 'under_score' is neither"):
        load_settings()
