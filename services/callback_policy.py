"""Which callback URLs the hub may POST events to (server-side request forgery protection).

A callback is refused when its host is, or resolves to, an address that is not on the public
internet: loopback, private, link-local (the cloud metadata service), multicast, reserved, ...
An operator allow-list (addresses, networks, host names) lifts the refusal, e.g. for a local
listener in tests. Every resolved address must pass, not just the first: a host answering with one
public and one internal address could otherwise be steered to the internal one.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

from services.errors import InvalidRequest

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], list[str]]

_SHARED_ADDRESS_SPACE = ip_network("100.64.0.0/10")  # carrier-grade NAT; also Alibaba's metadata service
_UNIQUE_LOCAL = ip_network("fc00::/7")
_NAT64 = ip_network("64:ff9b::/96")
_METADATA = frozenset({ip_address("169.254.169.254"), ip_address("fd00:ec2::254")})
# inet_aton's forms, which getaddrinfo also accepts: 2130706433, 0x7f.1, 0177.0.0.1, 127.1
# (a host made only of such numbers is an address or invalid, never a name to look up)
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*", re.IGNORECASE)
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*",
    re.IGNORECASE,
)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address (IPv4 and IPv6) the system resolver gives for ``host``."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def normal_host(host: str) -> str:
    """Lower case, no IPv6 brackets, no final dot, IDNA (ASCII) form: how hosts are compared."""
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host[:-1] if host.endswith(".") else host
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # left as is, the resolver refuses it
            host = host.encode("idna").decode("ascii")
    return host


def _legacy_ipv4(host: str) -> IPv4Address | None:
    """``host`` read as inet_aton does (decimal, octal and hex parts, 1 to 4 of them), if it has that shape.

    Raises ``ValueError`` when it has the shape but is not a valid address (``999.1.1.1``, ``08``, ``1.2.3.4.5``).
    """
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    if host.count(".") > 3:
        raise ValueError(f"{host!r} has more than four parts")
    values = []
    for part in host.lower().split("."):
        if part.startswith("0x"):
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            values.append(int(part[1:], 8))  # ValueError on 8 or 9
        else:
            values.append(int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        raise ValueError(f"{host!r} is out of range")
    value = last
    for i, v in enumerate(head):
        value |= v << (24 - 8 * i)
    return IPv4Address(value)


def _literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, if it is an IP literal in any form getaddrinfo would take."""
    try:
        return ip_address(host)
    except ValueError:
        pass
    try:
        return _legacy_ipv4(host)
    except ValueError as exc:
        raise InvalidRequest(f"callback host {host!r} looks like an IP address but is not a valid one") from exc


def _embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, NAT64), which decides its fate."""
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped IPv6 address", address.ipv4_mapped
    if address.sixtofour is not None:
        return "a 6to4 address", address.sixtofour
    if address in _NAT64:
        return "a NAT64 address", IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why a callback must not reach ``address`` (a phrase such as ``"a loopback address"``), or None."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind, ipv4 = embedded
            reason = refusal_reason(ipv4)
            return None if reason is None else f"{kind} of {ipv4}, {reason}"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address in _METADATA:
        return "the cloud metadata service address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address in _SHARED_ADDRESS_SPACE:
        return "in the shared address space 100.64.0.0/10"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "a site-local IPv6 address"
    if address in _UNIQUE_LOCAL:
        return "a unique-local IPv6 address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a globally routable address"
    return None


def _parse_allow_entry(entry: str) -> IPNetwork | str:
    host = normal_host(entry)
    try:
        return ip_network(host, strict=False)
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(host) or host.rsplit(".", 1)[-1].isdigit() or _NUMERIC_HOST.fullmatch(host):
        raise ValueError(f"callback allow-list entry {entry!r} is not an IP address, a CIDR network or a host name")
    return host


class CallbackPolicy:
    """Decides whether the server may send events to a callback URL, and to which addresses."""

    def __init__(self, allow: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in allow:
            parsed = _parse_allow_entry(entry.strip())
            if isinstance(parsed, str):
                hosts.add(parsed)
            else:
                networks.append(parsed)
        self._networks = tuple(networks)
        self._hosts = frozenset(hosts)
        self._resolve = resolver or system_resolver

    @classmethod
    def from_setting(cls, text: str, resolver: Resolver | None = None) -> CallbackPolicy:
        """A policy from a comma-separated allow-list setting (``"127.0.0.1, 10.0.0.0/8, listener.local"``)."""
        entries = [entry.strip() for entry in text.split(",")]
        return cls((entry for entry in entries if entry), resolver)

    def _allowed_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(candidate in network for candidate in candidates for network in self._networks)

    def check(self, url: str) -> list[str]:
        """The addresses a callback URL may be sent to; ``InvalidRequest`` if it must not be used."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidRequest(f"callback {url!r} is not a valid URL: {exc}") from exc
        scheme = parts.scheme.lower()
        if scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidRequest(f"callback {url!r} is not an absolute http(s) URL")
        return self.check_host(parts.hostname, port if port is not None else (443 if scheme == "https" else 80))

    def check_host(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` a callback may connect to; ``InvalidRequest`` if it must not."""
        name = normal_host(host)
        literal = _literal_address(name)
        if literal is not None:
            resolved: list[str] = [str(literal)]
        else:
            try:
                resolved = self._resolve(name, port)
            except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
                raise InvalidRequest(f"callback host {host!r} does not resolve: {exc}") from exc
        if not resolved:
            raise InvalidRequest(f"callback host {host!r} does not resolve to any address")
        addresses: list[str] = []
        for text in dict.fromkeys(resolved):  # distinct, in the resolver's order
            try:
                address = ip_address(text)
            except ValueError as exc:
                raise InvalidRequest(f"callback host {host!r} resolves to {text!r}, not an IP address") from exc
            if name not in self._hosts and not self._allowed_address(address):
                reason = refusal_reason(address)
                if reason is not None:
                    verb = "resolves to" if literal is None else "is"
                    raise InvalidRequest(f"callback host {host!r} {verb} {address}, {reason}; "
                                         "only public addresses (or allow-listed ones) may receive events")
            addresses.append(str(address))
        return addresses
