"""Callback policy: which hosts may receive events, with a fake resolver (no DNS)."""

from __future__ import annotations

import socket

import pytest

from services.callback_policy import CallbackPolicy
from services.errors import InvalidRequest

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"

ZONE = {
    "public.example": [PUBLIC_V4, PUBLIC_V6],
    "localhost": ["127.0.0.1", "::1"],
    "internal.example": ["10.1.2.3"],
    "half.example": [PUBLIC_V4, "192.168.1.10"],  # one public, one internal answer
    "metadata.example": ["169.254.169.254"],
    "empty.example": [],
    "garbage.example": ["not-an-ip"],
    "listener.test": ["127.0.0.1"],
}


class FakeResolver:
    def __init__(self, zone: dict[str, list[str]] | None = None) -> None:
        self.zone = ZONE if zone is None else zone
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.zone:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.zone[host])


def policy(*allow: str, resolver: FakeResolver | None = None) -> CallbackPolicy:
    return CallbackPolicy(allow, resolver or FakeResolver())


def refused(url: str, *allow: str) -> str:
    with pytest.raises(InvalidRequest) as info:
        policy(*allow).check(url)
    return info.value.message


def test_public_host_passes_with_all_its_addresses() -> None:
    resolver = FakeResolver()
    assert policy(resolver=resolver).check("https://Public.Example:8443/cb?x=1") == [PUBLIC_V4, PUBLIC_V6]
    assert resolver.calls == [("public.example", 8443)]


def test_default_ports_are_passed_to_the_resolver() -> None:
    resolver = FakeResolver()
    p = policy(resolver=resolver)
    p.check("http://public.example/")
    p.check("https://public.example/")
    assert resolver.calls == [("public.example", 80), ("public.example", 443)]


def test_public_literal_addresses_pass_without_resolving() -> None:
    resolver = FakeResolver()
    p = policy(resolver=resolver)
    assert p.check(f"http://{PUBLIC_V4}/") == [PUBLIC_V4]
    assert p.check(f"http://[{PUBLIC_V6}]:8080/") == [PUBLIC_V6]
    assert p.check("http://[::ffff:8.8.8.8]/") == ["::ffff:808:808"]
    assert resolver.calls == []


@pytest.mark.parametrize(("host", "reason"), [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("[::1]", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.0.1", "private"),
    ("169.254.169.254", "metadata"),
    ("169.254.1.1", "link-local"),
    ("[fe80::1]", "link-local"),
    ("[fe80::1%25eth0]", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("[ff02::1]", "multicast"),
    ("[ff0e::1]", "multicast"),  # global-scope multicast: is_global is True, still refused
    ("240.0.0.1", "private"),  # 240/4 is both private and reserved for ipaddress
    ("255.255.255.255", "private"),
    ("100.64.0.1", "shared address space"),
    ("100.100.100.200", "shared address space"),  # Alibaba Cloud metadata
    ("[fec0::1]", "site-local"),
    ("[fc00::1]", "unique-local"),
    ("[fd12:3456::1]", "unique-local"),
    ("[fd00:ec2::254]", "metadata"),  # AWS metadata over IPv6
    ("[::ffff:127.0.0.1]", "IPv4-mapped IPv6 address of 127.0.0.1, a loopback"),
    ("[::ffff:169.254.169.254]", "IPv4-mapped IPv6 address of 169.254.169.254, the cloud metadata"),
    ("[::ffff:10.0.0.1]", "IPv4-mapped IPv6 address of 10.0.0.1, a private"),
    ("[2002:7f00:1::]", "6to4 address of 127.0.0.1"),
    ("[64:ff9b::a9fe:a9fe]", "NAT64 address of 169.254.169.254"),
    ("192.0.2.7", "private"),  # documentation range
    ("[2001:db8::1]", "private"),
    ("198.18.0.1", "private"),  # benchmarking
])
def test_non_public_literal_hosts_are_refused(host: str, reason: str) -> None:
    message = refused(f"http://{host}:8080/cb")
    assert reason in message
    assert "callback host" in message


@pytest.mark.parametrize("host", [
    "2130706433",  # decimal 127.0.0.1
    "017700000001",  # octal
    "0x7f000001",  # hex
    "0x7f.1",  # hex, two parts
    "0177.0.0.1",  # octal first part
    "127.1",
    "0x7F.0.0.1",
    "127.0.0.1.",  # final dot
    "0",  # 0.0.0.0
])
def test_numeric_tricks_for_loopback_are_refused(host: str) -> None:
    resolver = FakeResolver()
    with pytest.raises(InvalidRequest, match=r"loopback|unspecified"):
        policy(resolver=resolver).check(f"http://{host}/")
    assert resolver.calls == []  # read as an address, never sent to DNS


def test_numeric_trick_for_metadata_is_refused() -> None:
    assert "metadata" in refused("http://2852039166/latest/meta-data/")  # 169.254.169.254
    assert "metadata" in refused("http://0xa9.0xfe.0xa9.0xfe/")
    assert "metadata" in refused("http://0251.0376.0251.0376/")


@pytest.mark.parametrize("host", ["999.1.1.1", "08.1.1.1", "1.2.3.4.5", "4294967296", "1.16777216"])
def test_invalid_numeric_hosts_are_refused(host: str) -> None:
    assert "not a valid" in refused(f"http://{host}/")


@pytest.mark.parametrize(("host", "reason"), [
    ("localhost", "loopback"),
    ("internal.example", "private"),
    ("metadata.example", "metadata"),
])
def test_names_resolving_to_non_public_addresses_are_refused(host: str, reason: str) -> None:
    message = refused(f"http://{host}/")
    assert f"'{host}' resolves to" in message
    assert reason in message


def test_one_internal_address_among_public_ones_is_enough_to_refuse() -> None:
    assert "192.168.1.10" in refused("http://half.example/")


def test_unresolvable_hosts_are_refused() -> None:
    assert "does not resolve" in refused("http://nowhere.example/")
    assert "does not resolve" in refused("http://empty.example/")
    assert "not an IP address" in refused("http://garbage.example/")


def test_resolver_errors_other_than_lookup_failures_propagate() -> None:
    def broken(host: str, port: int) -> list[str]:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        CallbackPolicy((), broken).check("http://public.example/")


@pytest.mark.parametrize("url", [
    "ftp://public.example/",
    "file:///etc/passwd",
    "gopher://public.example/",
    "javascript:alert(1)",
    "//public.example/cb",
    "/relative/path",
    "public.example/cb",
    "http:///nohost",
    "",
])
def test_non_http_or_relative_urls_are_refused(url: str) -> None:
    assert "not an absolute http(s) URL" in refused(url)


def test_invalid_port_is_refused() -> None:
    assert "not a valid URL" in refused("http://public.example:99999/")


def test_allow_list_by_address() -> None:
    assert policy("127.0.0.1").check("http://127.0.0.1:9000/") == ["127.0.0.1"]
    assert policy("127.0.0.1").check("http://2130706433:9000/") == ["127.0.0.1"]
    assert policy("127.0.0.1").check("http://[::ffff:127.0.0.1]/") == ["::ffff:7f00:1"]
    assert policy("::1").check("http://[::1]/") == ["::1"]
    assert "127.0.0.2" in refused("http://127.0.0.2/", "127.0.0.1")
    # localhost also answers ::1, which 127.0.0.1 does not cover
    assert "::1" in refused("http://localhost/", "127.0.0.1")


def test_allow_list_by_network() -> None:
    assert policy("10.0.0.0/8").check("http://internal.example/") == ["10.1.2.3"]
    assert policy("127.0.0.0/8", "::1/128").check("http://localhost/") == ["127.0.0.1", "::1"]
    assert policy("fd00::/8").check("http://[fd12::1]/") == ["fd12::1"]
    assert policy("10.0.0.1/8").check("http://10.200.0.1/") == ["10.200.0.1"]  # host bits tolerated
    assert "10.1.2.3" in refused("http://internal.example/", "10.0.0.0/16")


def test_allow_list_by_host_name_is_exact_and_case_insensitive() -> None:
    assert policy("LocalHost").check("http://localhost:5000/") == ["127.0.0.1", "::1"]
    assert policy("localhost").check("http://LOCALHOST./") == ["127.0.0.1", "::1"]
    assert policy("listener.test").check("http://listener.test/") == ["127.0.0.1"]
    assert "loopback" in refused("http://listener.test/", "test")  # no suffix matching
    assert "loopback" in refused("http://127.0.0.1/", "localhost")  # a name does not allow its address


def test_allow_listed_host_must_still_resolve() -> None:
    assert "does not resolve" in refused("http://nowhere.example/", "nowhere.example")


def test_from_setting_parses_a_comma_separated_list() -> None:
    resolver = FakeResolver()
    p = CallbackPolicy.from_setting(" 127.0.0.1 , 10.0.0.0/8,,listener.test, ::1 ,", resolver)
    assert p.check("http://127.0.0.1/") == ["127.0.0.1"]
    assert p.check("http://internal.example/") == ["10.1.2.3"]
    assert p.check("http://listener.test/") == ["127.0.0.1"]
    assert p.check("http://[::1]/") == ["::1"]
    assert CallbackPolicy.from_setting("", resolver).check("http://public.example/") == [PUBLIC_V4, PUBLIC_V6]
    with pytest.raises(InvalidRequest):
        CallbackPolicy.from_setting("  ", resolver).check("http://127.0.0.1/")


@pytest.mark.parametrize("entry", ["http://x", "10.0.0.0/33", "a b", "300.1.1.1", "2130706433", "-bad-.example",
                                   "x/y", "*.example.com"])
def test_invalid_allow_entries_are_named(entry: str) -> None:
    with pytest.raises(ValueError, match="allow-list entry") as info:
        CallbackPolicy.from_setting(f"127.0.0.1,{entry}")
    assert repr(entry) in str(info.value)
    with pytest.raises(ValueError, match="allow-list entry"):
        CallbackPolicy([entry])


def test_default_resolver_is_the_system_one() -> None:
    # "localhost" is in every hosts file; no network needed
    with pytest.raises(InvalidRequest, match="loopback"):
        CallbackPolicy().check("http://localhost/")
    assert "127.0.0.1" in CallbackPolicy(["localhost"]).check("http://localhost/")
