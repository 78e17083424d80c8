"""Outbound targets: each class of address refused by default, opened only by the allow-list."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from tasks.notifications.errors import OutboundRefused
from tasks.notifications.outbound import AllowList, address_class, checked_addresses
from workers.settings import split_allow_list


def allow(text: str) -> AllowList:
    networks, hosts = split_allow_list(text)
    return AllowList(tuple(networks), frozenset(hosts))


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("100.64.0.1", "private"),
        ("0.0.0.0", "reserved"),  # noqa: S104
        ("224.0.0.1", "reserved"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_classes(address: str, kind: str | None) -> None:
    assert address_class(ip_address(address)) == kind


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "169.254.169.254", "[fd00:ec2::254]", "10.0.0.1", "::1"]
)
def test_every_non_public_target_is_refused_by_default(host: str) -> None:
    with pytest.raises(OutboundRefused, match="TASKYARD_OUTBOUND_ALLOW") as raised:
        checked_addresses(host, 80, AllowList())

    assert raised.value.details["host"] == host


def test_a_public_address_passes_without_any_allow_list() -> None:
    assert checked_addresses("93.184.216.34", 443, AllowList()) == [ip_address("93.184.216.34")]


def test_the_allow_list_opens_networks_and_hosts() -> None:
    rules = allow("10.0.0.0/8, localhost, 169.254.0.0/16")

    assert checked_addresses("10.9.8.7", 80, rules) == [ip_address("10.9.8.7")]
    assert checked_addresses("localhost", 80, rules)
    assert checked_addresses("169.254.3.4", 80, rules)
    with pytest.raises(OutboundRefused, match="private"):
        checked_addresses("192.168.0.1", 80, rules)


def test_metadata_opens_only_for_its_own_address() -> None:
    with pytest.raises(OutboundRefused, match="cloud metadata"):
        checked_addresses("169.254.169.254", 80, allow("169.254.0.0/16"))

    assert checked_addresses("169.254.169.254", 80, allow("169.254.169.254/32"))


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(ValueError, match="'not a host!' is neither a CIDR nor a host name"):
        split_allow_list("10.0.0.0/8,not a host!")
