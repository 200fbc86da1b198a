"""Tests of herald.common.url_guard: the SSRF guard of webhook URLs (table-driven)."""

from __future__ import annotations

import ipaddress

import pytest

from herald.api.service_layer.errors import Invalid
from herald.api.service_layer.webhook_endpoints import check_target
from herald.common.url_guard import (
    MalformedUrl,
    UnsafeUrl,
    check_address,
    check_url,
    resolve_and_check,
)

FORBIDDEN = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("100.64.0.1", "globally routable"),  # carrier-grade NAT
    ("192.0.2.10", "private"),  # documentation
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "why"), FORBIDDEN)
def test_forbidden_addresses_are_refused(address: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why) as refused:
        check_address(address, allow_private=False)
    assert str(ipaddress.ip_address(address)) in refused.value.reason
    if why == "metadata":  # never reachable, not even where private targets are allowed
        with pytest.raises(UnsafeUrl, match="metadata"):
            check_address(address, allow_private=True)
    else:
        check_address(address, allow_private=True)  # the local dev stack and the tests


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    check_address(address, allow_private=False)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://hooks.example.com/herald", "hooks.example.com"),
        ("http://HOOKS.example.com:8443/x?y=1", "hooks.example.com"),
        ("https://8.8.8.8/hook", "8.8.8.8"),
        ("https://[2606:4700:4700::1111]:443/", "2606:4700:4700::1111"),
        ("HTTPS://example.com", "example.com"),
    ],
)
def test_good_urls_return_their_host(url: str, host: str) -> None:
    assert check_url(url, allow_private=False) == host


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://x", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://example.com", "scheme"),
        ("example.com/hook", "scheme"),
        ("", "scheme"),
        ("https://", "no host"),
        ("https:///path", "no host"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://user@example.com/", "user name or password"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com:0/", "port 0"),
        ("https://[::1/", "not a valid URL"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com/\r\nX-Injected: 1", "control characters"),
    ],
)
def test_malformed_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(MalformedUrl, match=why):
        check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/",
        "https://10.0.0.5/",
    ],
)
def test_forbidden_ip_literals_are_refused_at_once(url: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url, allow_private=False)
    assert not isinstance(refused.value, MalformedUrl)
    check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/"]
)
def test_the_metadata_service_is_refused_even_with_private_targets_allowed(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="metadata"):
        check_url(url, allow_private=True)


def test_a_host_name_the_client_could_not_encode_is_malformed() -> None:
    with pytest.raises(MalformedUrl, match="not a valid host name"):
        check_url(f"http://{'a' * 64}.example.com/hook", allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000/hook",  # a name that resolves to loopback
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://127.1/",  # short form
        "http://0x7f.0.0.1/",  # hexadecimal
    ],
)
async def test_names_are_refused_when_they_resolve_to_a_forbidden_address(url: str) -> None:
    check_url(url, allow_private=False)  # not an IP literal: only resolution tells
    with pytest.raises(UnsafeUrl, match="loopback"):
        await resolve_and_check(url, allow_private=False)
    assert await resolve_and_check(url, allow_private=True)


async def test_a_name_that_does_not_resolve_is_a_network_error() -> None:
    with pytest.raises(OSError):
        await resolve_and_check("https://no-such-host.invalid/hook", allow_private=False)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:8000/hook", "webhook_url_forbidden"),
        ("http://localhost:8000/hook", "webhook_url_forbidden"),  # resolved, then refused
        ("http://169.254.169.254/latest/meta-data/", "webhook_url_forbidden"),
        ("http://[::ffff:10.0.0.1]/", "webhook_url_forbidden"),
        ("ftp://x", "validation_error"),
        ("https://user:pw@example.com/", "validation_error"),
    ],
)
async def test_the_api_refuses_what_the_sender_would(url: str, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        await check_target(url, allow_private=False)
    assert refused.value.code == code


async def test_the_api_accepts_public_and_not_yet_resolvable_targets() -> None:
    await check_target("https://8.8.8.8/hook", allow_private=False)
    await check_target("https://no-such-host.invalid/hook", allow_private=False)  # DNS comes later
    await check_target("http://127.0.0.1:8000/hook", allow_private=True)
