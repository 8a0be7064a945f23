"""URL fetching refuses every way into our own network; a canary proves nothing got through."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.conftest import DATA
from tests.servers import Canary, redirector, serve_directory
from twoshot.errors import PayloadTooLarge, UrlRefused
from twoshot.fetch import Fetcher, FetchPolicy, is_public_address

# What the test treats as "the public internet": one loopback address standing in for a
# public host, so that a redirect from it can be followed; every other address is checked
# by the real rule.
PUBLIC_STAND_IN = "127.0.0.2"


def policy_for_tests(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return str(ip) == PUBLIC_STAND_IN or is_public_address(ip)


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


def fetcher(resolver_map: dict[str, str] | None = None, **policy: object) -> Fetcher:
    table = {
        "evil.test": "127.0.0.1",
        "metadata.test": "169.254.169.254",
        "public.test": PUBLIC_STAND_IN,
    }
    table.update(resolver_map or {})

    async def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return [table[host]]
        raise OSError("no such host")

    return Fetcher(FetchPolicy(**policy), resolver=resolve, address_allowed=policy_for_tests)  # type: ignore[arg-type]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def hostile_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/x.jpg",
        f"http://localhost:{port}/x.jpg",
        f"http://[::1]:{port}/x.jpg",
        f"http://0.0.0.0:{port}/x.jpg",
        f"http://[::ffff:127.0.0.1]:{port}/x.jpg",  # IPv4-mapped IPv6
        f"http://2130706433:{port}/x.jpg",  # 127.0.0.1 as one decimal number
        f"http://0x7f.0.0.1:{port}/x.jpg",  # hex octet
        f"http://127.1:{port}/x.jpg",  # short form
        f"http://evil.test:{port}/x.jpg",  # a DNS name resolving to loopback
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://metadata.test/latest/meta-data/",  # a name resolving to it
        "http://10.0.0.1/x.jpg",
        "http://192.168.1.1/x.jpg",
        "http://172.16.0.1/x.jpg",
        "http://100.64.0.1/x.jpg",  # CGNAT
        "http://224.0.0.1/x.jpg",  # multicast
        "http://[fe80::1]/x.jpg",  # link-local IPv6
        "http://[fc00::1]/x.jpg",  # unique-local IPv6
        "http://[2002:7f00:1::]/x.jpg",  # 6to4 wrapping 127.0.0.1
        f"http://user:pass@127.0.0.1:{port}/x.jpg",
        "file:///etc/passwd",
        "ftp://example.com/x.jpg",
        "gopher://127.0.0.1:70/_",
        "javascript:alert(1)",
        "data:text/html;base64,PGgxPmhpPC9oMT4=",
    ]


def test_hostile_urls_are_refused_and_nothing_connects(canary: Canary) -> None:
    urls = hostile_urls(canary.port)
    assert len(urls) >= 12
    f = fetcher()
    for url in urls:
        with pytest.raises(UrlRefused) as info:
            run(f.fetch(url, "maleImages[0]"))
        assert info.value.code in ("url_not_allowed", "fetch_failed", "invalid_field"), url
        assert info.value.field == "maleImages[0]"
    assert canary.hits == 0


def test_redirect_from_a_public_host_to_loopback_is_refused(canary: Canary) -> None:
    with redirector(f"http://127.0.0.1:{canary.port}/x.jpg", host=PUBLIC_STAND_IN) as start:
        port = start.rsplit(":", 1)[1]
        f = fetcher()
        with pytest.raises(UrlRefused) as info:
            run(f.fetch(f"http://public.test:{port}/photo.jpg", "items[0].poseImage"))
    assert info.value.code == "url_not_allowed"
    assert canary.hits == 0


def test_redirect_to_a_name_resolving_to_loopback_is_refused(canary: Canary) -> None:
    target = f"http://evil.test:{canary.port}/x.jpg"
    with redirector(target, host=PUBLIC_STAND_IN) as start, pytest.raises(UrlRefused):
        run(fetcher().fetch(start + "/a.jpg", "f"))
    assert canary.hits == 0


def test_redirect_chains_are_capped() -> None:
    with ExitStack() as stack:
        target = stack.enter_context(serve_directory(DATA, host=PUBLIC_STAND_IN)) + "/obama.jpg"
        for _ in range(3):  # three hops are allowed
            target = stack.enter_context(redirector(target, host=PUBLIC_STAND_IN)) + "/hop"
        assert run(fetcher().fetch(target, "f")) == (DATA / "obama.jpg").read_bytes()
        target = stack.enter_context(redirector(target, host=PUBLIC_STAND_IN)) + "/hop"
        with pytest.raises(UrlRefused) as info:  # a fourth is not
            run(fetcher().fetch(target, "f"))
        assert "redirects" in info.value.message


def test_public_fetch_follows_a_redirect_and_gets_the_bytes() -> None:
    with (
        serve_directory(DATA, host=PUBLIC_STAND_IN) as files,
        redirector(files + "/obama.jpg", host=PUBLIC_STAND_IN) as r,
    ):
        data = run(fetcher().fetch(r + "/go", "f"))
    assert data == (DATA / "obama.jpg").read_bytes()


def test_byte_cap_while_streaming() -> None:
    with serve_directory(DATA, host=PUBLIC_STAND_IN) as files, pytest.raises(PayloadTooLarge):
        run(fetcher(max_bytes=10_000).fetch(files + "/obama.jpg", "f"))


def test_http_errors_and_unknown_hosts_are_fetch_failed() -> None:
    with serve_directory(DATA, host=PUBLIC_STAND_IN) as files:
        with pytest.raises(UrlRefused) as info:
            run(fetcher().fetch(files + "/nope.jpg", "f"))
        assert info.value.code == "fetch_failed" and "404" in info.value.message
    with pytest.raises(UrlRefused) as info:
        run(fetcher().fetch("http://nowhere.test/x.jpg", "f"))
    assert info.value.code == "fetch_failed"


def test_data_urls() -> None:
    import base64

    raw = (DATA / "obama.jpg").read_bytes()
    f = fetcher()
    assert run(f.fetch("data:image/jpeg;base64," + base64.b64encode(raw).decode(), "f")) == raw
    with pytest.raises(UrlRefused):
        run(f.fetch("data:image/jpeg;base64,***", "f"))
    with pytest.raises(PayloadTooLarge):
        run(
            fetcher(max_bytes=100).fetch(
                "data:image/jpeg;base64," + base64.b64encode(raw).decode(), "f"
            )
        )


def test_each_distinct_url_is_fetched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    f = fetcher()

    async def counting(url: str, field: str) -> bytes:
        calls.append(url)
        return b"x"

    monkeypatch.setattr(f, "fetch", counting)
    out = run(f.fetch_all({"a[0]": "http://a/1", "a[1]": "http://a/1", "b": "http://a/2"}))
    assert sorted(calls) == ["http://a/1", "http://a/2"] and len(out) == 2


def test_address_rule() -> None:
    public = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]
    private = [
        "127.0.0.1",
        "10.1.2.3",
        "172.31.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:c0a8:0101::",
        "198.18.0.1",
        "240.0.0.1",
    ]
    assert all(is_public_address(ipaddress.ip_address(a)) for a in public)
    assert not any(is_public_address(ipaddress.ip_address(a)) for a in private)
