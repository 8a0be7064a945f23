"""Fetching user-supplied image URLs without becoming a proxy into our own network.

Every address a name resolves to must be global (no loopback, private, link-local such as
the cloud metadata service, CGNAT, multicast, reserved, unspecified, or IPv6 forms that
embed one of those). We then connect to the very address we checked (no second DNS lookup
that an attacker could answer differently), send the original Host header and TLS SNI,
follow at most N redirects by hand and check each one again, and cap connect time, total
time and bytes read. ``data:image/…;base64,`` URLs are decoded in place.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from twoshot.errors import PayloadTooLarge, UrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_DATA_URL = re.compile(r"^data:image/(jpeg|jpg|png|webp);base64,", re.IGNORECASE)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def is_public_address(ip: IPAddress) -> bool:
    """True only for addresses on the public internet."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return is_public_address(embedded)
        if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 of an IPv4 address
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_unspecified
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_private
        and not (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    )


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class FetchPolicy:
    allow_private: bool = False
    connect_timeout: float = 5.0
    total_timeout: float = 20.0
    max_redirects: int = 3
    max_bytes: int = 15 * 1024 * 1024


class Fetcher:
    """One per process; ``aclose`` it on shutdown."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver = system_resolver,
        address_allowed: Callable[[IPAddress], bool] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.policy = policy
        self._resolve = resolver
        self._allowed = address_allowed or (
            (lambda _ip: True) if policy.allow_private else is_public_address
        )
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # never route user URLs through a proxy from the environment
            timeout=httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout),
            headers={"User-Agent": "twoshot-fetch/1", "Accept": "image/*"},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch_all(self, urls: Mapping[str, str]) -> dict[str, bytes]:
        """Fetch each distinct URL once, concurrently. ``urls`` maps field name → URL.

        Returns URL → bytes. The first failure, in field order, is raised and names its field.
        """
        fields_of: dict[str, str] = {}
        for field, url in urls.items():
            fields_of.setdefault(url, field)
        distinct = list(fields_of)
        results = await asyncio.gather(
            *(self.fetch(url, fields_of[url]) for url in distinct), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return dict(zip(distinct, results, strict=True))  # type: ignore[arg-type]

    async def fetch(self, url: str, field: str) -> bytes:
        if not isinstance(url, str) or not url.strip():
            raise UrlRefused(
                f"{field} is empty; send an http(s) URL", code="invalid_field", field=field
            )
        url = url.strip()
        if url[:5].lower() == "data:":
            return self._data_url(url, field)
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                return await self._fetch_http(url, field)
        except TimeoutError:
            raise UrlRefused(
                f"{field}: fetching the image took longer than {self.policy.total_timeout:.0f} s; "
                "send a URL that answers faster, or upload the file",
                code="fetch_failed",
                field=field,
            ) from None

    def _data_url(self, url: str, field: str) -> bytes:
        match = _DATA_URL.match(url)
        if not match:
            raise UrlRefused(
                f"{field}: only data:image/jpeg, png or webp URLs with ;base64, are accepted",
                field=field,
            )
        payload = url[match.end() :]
        if len(payload) * 3 // 4 > self.policy.max_bytes:
            raise PayloadTooLarge(
                f"{field}: the image is over {self.policy.max_bytes // (1024 * 1024)} MB",
                field=field,
            )
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise UrlRefused(
                f"{field}: the data URL is not valid base64", code="invalid_field", field=field
            ) from None

    async def check_url(self, url: str, field: str) -> str:
        """Refuse now what a later request to ``url`` would refuse (scheme, host, address)."""
        parsed = self._parse(url.strip(), field)
        await self._checked_address(parsed, field)
        return str(parsed)

    async def post(self, url: str, body: bytes, headers: dict[str, str], field: str) -> int:
        """POST to a checked address, redirects not followed; returns the status code."""
        request = await self._pinned("POST", self._parse(url, field), field, body, headers)
        async with asyncio.timeout(self.policy.total_timeout):
            response = await self._client.send(request)
        await response.aclose()
        return response.status_code

    async def _pinned(
        self,
        method: str,
        url: httpx.URL,
        field: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Request:
        """A request to the very address that was checked, with the original Host and SNI."""
        address = await self._checked_address(url, field)
        return self._client.build_request(
            method,
            url.copy_with(host=address),
            content=body,
            headers={**(headers or {}), "Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
        )

    async def _fetch_http(self, url: str, field: str) -> bytes:
        current = self._parse(url, field)
        for _hop in range(self.policy.max_redirects + 1):
            request = await self._pinned("GET", current, field)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise UrlRefused(
                    f"{field}: could not fetch the image ({type(exc).__name__}); "
                    "check that the URL is reachable, or upload the file",
                    code="fetch_failed",
                    field=field,
                ) from None
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    current = self._parse(str(current.join(location)), field)
                    continue
                if response.status_code != 200:
                    raise UrlRefused(
                        f"{field}: the server answered HTTP {response.status_code}; "
                        "send a URL that serves the image",
                        code="fetch_failed",
                        field=field,
                    )
                return await self._read_capped(response, field)
            finally:
                await response.aclose()
        raise UrlRefused(
            f"{field}: more than {self.policy.max_redirects} redirects; send the final URL",
            code="fetch_failed",
            field=field,
        )

    @staticmethod
    def _parse(url: str, field: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except Exception:
            raise UrlRefused(
                f"{field} is not a valid URL", code="invalid_field", field=field
            ) from None
        if parsed.scheme not in ("http", "https"):
            raise UrlRefused(
                f"{field}: the {parsed.scheme or 'missing'} scheme is not allowed; "
                "send an http or https URL",
                field=field,
            )
        if not parsed.host:
            raise UrlRefused(f"{field}: the URL has no host", code="invalid_field", field=field)
        if parsed.userinfo:
            raise UrlRefused(f"{field}: URLs with credentials are not allowed", field=field)
        return parsed

    async def _checked_address(self, url: httpx.URL, field: str) -> str:
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [literal]
        else:
            try:
                found = await self._resolve(host, port)
            except (OSError, UnicodeError):
                raise UrlRefused(
                    f"{field}: the host {host!r} could not be resolved",
                    code="fetch_failed",
                    field=field,
                ) from None
            candidates = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        if not candidates:
            raise UrlRefused(
                f"{field}: the host {host!r} has no address", code="fetch_failed", field=field
            )
        for ip in candidates:
            if not self._allowed(ip):
                raise UrlRefused(
                    f"{field}: the URL points to a non-public address; "
                    "send a URL on the public internet, or upload the file",
                    field=field,
                )
        return str(candidates[0])

    async def _read_capped(self, response: httpx.Response, field: str) -> bytes:
        cap = self.policy.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise PayloadTooLarge(
                f"{field}: the image is over {cap // (1024 * 1024)} MB", field=field
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise PayloadTooLarge(
                    f"{field}: the image is over {cap // (1024 * 1024)} MB", field=field
                )
            chunks.append(chunk)
        return b"".join(chunks)
