"""Which addresses a channel may reach: public ones, and private, loopback, link-local or
metadata ones only when ``TASKYARD_OUTBOUND_ALLOW`` names them. Checked when a channel is
saved and again, on freshly resolved addresses, before every send (DNS may have changed)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from tasks.notifications.errors import OutboundRefused
from workers.errors import TaskyardError
from workers.settings import get_settings, split_allow_list

Address = IPv4Address | IPv6Address
#: Cloud instance metadata services: opened only by naming the address itself.
METADATA = frozenset(
    {ip_address("169.254.169.254"), ip_address("fd00:ec2::254"), ip_address("100.100.100.200")}
)
ALLOW_SETTING = "TASKYARD_OUTBOUND_ALLOW"


class TargetUnresolved(TaskyardError):
    """A channel's host name does not resolve (now)."""

    code = "target_unresolved"


@dataclass(frozen=True)
class AllowList:
    """The networks and host names opened by ``TASKYARD_OUTBOUND_ALLOW``."""

    networks: tuple[IPv4Network | IPv6Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    def allows(self, host: str, address: Address) -> bool:
        """Whether ``address`` (resolved from ``host``) is opened by this list."""
        if host.lower().rstrip(".") in self.hosts and address not in METADATA:
            return True
        return any(
            address in network
            and (address not in METADATA or network.prefixlen == network.max_prefixlen)
            for network in self.networks
        )


@lru_cache(maxsize=8)
def _parsed(text: str) -> AllowList:
    networks, hosts = split_allow_list(text)
    return AllowList(tuple(networks), frozenset(hosts))


def allow_list() -> AllowList:
    """The allow-list of the current settings."""
    return _parsed(get_settings().outbound_allow)


def address_class(address: Address) -> str | None:
    """Why ``address`` is refused by default (``None``: a public address, allowed)."""
    address = _plain(address)
    if address in METADATA:
        return "cloud metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "private"
    return None


def _plain(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it is."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to now (an IP literal is itself)."""
    literal = host.strip("[]")
    try:
        return [_plain(ip_address(literal))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:
        raise TargetUnresolved(f"host {host!r} does not resolve ({error})") from None
    seen: dict[Address, None] = {}
    for info in infos:
        seen[_plain(ip_address(str(info[4][0]).split("%", 1)[0]))] = None
    return list(seen)


def checked_addresses(host: str, port: int, allowed: AllowList | None = None) -> list[Address]:
    """``host``'s addresses, each one checked, else :class:`OutboundRefused` naming the first
    refused one and the setting that would open it."""
    allowed = allow_list() if allowed is None else allowed
    addresses = resolve(host, port)
    for address in addresses:
        kind = address_class(address)
        if kind is not None and not allowed.allows(host, address):
            message = (
                f"{host} resolves to {address}, a {kind} address, which channels may not "
                f"reach; add it to {ALLOW_SETTING} if this target is meant"
            )
            raise OutboundRefused(message, {"host": host, "address": str(address), "class": kind})
    return addresses
