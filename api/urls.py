"""Outbound requests to caller-supplied URLs (webhooks, reference images), guarded against SSRF.

Only ``https`` (plain ``http`` only to hosts the operator lists); every address a host resolves to
must be public unless the operator allows that host, and the connection goes to the address that was
checked (no second DNS answer); the check is repeated on every redirect. Bodies are read with a size
cap within a total deadline, and fetched images must be PNG, JPEG or WebP by content, not header.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import anyio
import anyio.to_thread
import httpx

from api.errors import RateLimitedError
from foundation.errors import InvalidInputError, Problem
from foundation.tls import tls_context
from media.files import EMPTY
from media.images import pixels_problem, sniff_image

Resolver = Callable[[str, int], list[str]]
REDIRECTS = {301, 302, 303, 307, 308}
IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
RESOLVER_THREADS = 8
"""Threads resolving names (and storing fetched images) at once, apart from the sync routes' pool."""


class UnsafeUrlError(InvalidInputError):
    """A URL the API will not call: wrong scheme, private address, unreachable, too large, too slow."""


class OutboundBusyError(RateLimitedError):
    """Every place for downloads is taken; the caller may retry after ``retry_after_s``."""

    status_code = 503


class TenantFetchesError(RateLimitedError):
    """The tenant holds its share of the places for downloads (429: its own requests wait, not
    another tenant's)."""


def system_resolve(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _unsafe(path: str, message: str) -> UnsafeUrlError:
    return UnsafeUrlError(f"{path}: {message}", [Problem(path, message)])


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches through a translator: mapped, NAT64 (a NAT64 gateway,
    as in AWS's IPv6-only subnets, reaches private IPv4 hosts too), 6to4, IPv4-compatible."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(ip.packed[12:])
    return ip.sixtofour


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if embedded is not None:  # reached through a translator: the IPv4 address decides, on every
        return _public(str(embedded))  # Python (3.13's is_global calls all of 6to4 not global)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    """A checked URL and the address it was checked at (None: an operator-allowed private host,
    resolved when connecting)."""

    url: httpx.URL
    address: str | None


@dataclass(frozen=True)
class UrlPolicy:
    http_hosts: frozenset[str] = frozenset()
    private_hosts: frozenset[str] = frozenset()
    resolve: Resolver = field(default=system_resolve, compare=False)

    def check(self, url: str, path: str) -> httpx.URL:
        """The parsed URL when the API may call it; raises ``UnsafeUrlError`` otherwise."""
        return self.vet(url, path).url

    def vet(self, url: str, path: str) -> Target:
        """``check``, plus the vetted address a connection to this URL must go to."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise _unsafe(path, "is not a valid URL") from None
        host = (parsed.host or "").lower().rstrip(".")
        if not host:
            raise _unsafe(path, "has no host")
        if parsed.userinfo:
            raise _unsafe(path, "must not carry credentials")
        if parsed.scheme != "https" and not (parsed.scheme == "http" and host in self.http_hosts):
            raise _unsafe(path, "must be an https URL (plain http only to allowed hosts)")
        if host in self.private_hosts:
            return Target(parsed, None)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = [host.strip("[]")] if _literal(host) else self.resolve(host, port)
        except (OSError, UnicodeError):
            raise _unsafe(path, f"host {host!r} cannot be resolved") from None
        if not addresses:
            raise _unsafe(path, f"host {host!r} cannot be resolved")
        for address in addresses:
            if not _public(address):
                raise _unsafe(path, f"host {host!r} resolves to a non-public address")
        return Target(parsed, addresses[0].split("%", 1)[0])


PIN = "shotline.vetted_address"
"""The request extension carrying the address a request's URL was vetted at."""


class PinnedTransport(httpx.AsyncBaseTransport):
    """Connects each request to the address its URL was vetted at (extension ``PIN``), keeping the
    URL's host for the Host header and for TLS (SNI and the certificate check), so a second DNS
    answer (rebinding) is never used. Requests without a pin pass through unchanged."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        extensions = dict(request.extensions)
        address = extensions.pop(PIN, None)
        if not isinstance(address, str):
            return await self.inner.handle_async_request(request)
        if request.url.scheme == "https":
            extensions["sni_hostname"] = request.url.host
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=request.headers,  # already holds ``Host`` of the URL's own host
            stream=request.stream,
            extensions=extensions,
        )
        return await self.inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class Fetched:
    status_code: int
    content_type: str
    body: bytes
    url: str


@dataclass
class Outbound:
    """The one way the API calls out. Every request is vetted by ``policy`` and connects to the
    vetted address; redirects (at most ``max_redirects``) are vetted and pinned again; bodies stop at
    ``max_bytes``; ``timeout_s`` bounds each network step and ``deadline_s`` the whole request.

    The ``a*`` methods run on the event loop and resolve names in threads of their own (never the
    shared pool of sync routes); ``request`` is for threads without a loop (the webhook senders).
    ``transport`` replaces the network in tests (it is closed after each request)."""

    policy: UrlPolicy
    transport: httpx.AsyncBaseTransport | None = None
    max_redirects: int = 3
    timeout_s: float = 10.0
    deadline_s: float = 15.0
    max_fetches: int = 64
    max_fetches_per_tenant: int = 16
    _held: Counter[str] = field(init=False, repr=False, default_factory=Counter)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _resolvers: anyio.CapacityLimiter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._resolvers = anyio.CapacityLimiter(RESOLVER_THREADS)

    @contextmanager
    def slot(self, tenant: str) -> Iterator[None]:
        """One of ``max_fetches`` places for a request's downloads, of which one tenant holds at
        most ``max_fetches_per_tenant`` (a tenant whose URLs answer slowly cannot take every place
        from the others). Refused at once instead of queued: ``TenantFetchesError`` (429) past the
        tenant's share, ``OutboundBusyError`` (503) when all are taken; both with Retry-After."""
        with self._lock:
            if self._held[tenant] >= self.max_fetches_per_tenant:
                raise TenantFetchesError(
                    f"{self._held[tenant]} of your downloads are in progress (at most "
                    f"{self.max_fetches_per_tenant} at once); retry shortly",
                    retry_after_s=1,
                )
            if self._held.total() >= self.max_fetches:
                raise OutboundBusyError(
                    f"{self.max_fetches} downloads are in progress; retry shortly", retry_after_s=1
                )
            self._held[tenant] += 1
        try:
            yield
        finally:
            with self._lock:
                self._held[tenant] -= 1
                if not self._held[tenant]:
                    del self._held[tenant]

    async def arequest(
        self,
        method: str,
        url: str,
        *,
        path: str,
        max_bytes: int,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        offload: bool = True,
    ) -> Fetched:
        """Send one request, following redirects. Network errors propagate as ``httpx.HTTPError``;
        policy, size and deadline violations raise ``UnsafeUrlError``."""
        try:
            with anyio.fail_after(self.deadline_s):
                return await self._follow(method, url, path, max_bytes, content, headers, offload)
        except TimeoutError:
            raise _unsafe(
                path, f"did not complete within the {self.deadline_s:g} s deadline"
            ) from None

    async def _follow(
        self,
        method: str,
        url: str,
        path: str,
        max_bytes: int,
        content: bytes | None,
        headers: dict[str, str] | None,
        offload: bool,
    ) -> Fetched:
        target = await self._vet(url, path, offload)
        async with self._client() as client:
            for _ in range(self.max_redirects + 1):
                request = client.build_request(
                    method, target.url, content=content, headers=headers,
                    extensions={PIN: target.address},
                )  # fmt: skip
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    follow = method == "GET" or response.status_code in (307, 308)
                    if response.status_code in REDIRECTS and location and follow:
                        target = await self._vet(str(target.url.join(location)), path, offload)
                        continue
                    body = await _read_capped(response, max_bytes, path)
                finally:
                    await response.aclose()
                content_type = response.headers.get("content-type", "").split(";")[0]
                return Fetched(response.status_code, content_type.strip().lower(), body,
                               str(target.url))  # fmt: skip
        raise _unsafe(path, f"more than {self.max_redirects} redirects")

    async def acheck(self, url: str, path: str) -> httpx.URL:
        """``policy.check`` without blocking the event loop, within the deadline."""
        try:
            with anyio.fail_after(self.deadline_s):
                return (await self._vet(url, path, True)).url
        except TimeoutError:
            message = f"could not be resolved within the {self.deadline_s:g} s deadline"
            raise _unsafe(path, message) from None

    async def _vet(self, url: str, path: str, offload: bool) -> Target:
        if not offload:
            return self.policy.vet(url, path)
        return await anyio.to_thread.run_sync(
            self.policy.vet, url, path, abandon_on_cancel=True, limiter=self._resolvers
        )

    def _client(self) -> httpx.AsyncClient:
        transport = self.transport or PinnedTransport(  # the process's verifying context
            httpx.AsyncHTTPTransport(verify=tls_context(), trust_env=False)
        )
        return httpx.AsyncClient(
            transport=transport, timeout=self.timeout_s, follow_redirects=False, trust_env=False
        )

    async def afetch(self, url: str, path: str, max_bytes: int, *, offload: bool = True) -> bytes:
        """The body of a GET that answered 200; every failure is an ``UnsafeUrlError``."""
        try:
            got = await self.arequest("GET", url, path=path, max_bytes=max_bytes, offload=offload)
        except httpx.HTTPError as exc:
            raise _unsafe(path, f"could not be fetched ({type(exc).__name__})") from None
        if got.status_code != 200:
            raise _unsafe(path, f"answered HTTP {got.status_code}")
        return got.body

    async def afetch_image(self, url: str, path: str, dest: Path, max_bytes: int) -> Path:
        """Download a reference image into ``dest`` (named by its content hash)."""
        body = await self.afetch(url, path, max_bytes)
        return await anyio.to_thread.run_sync(
            store_image, body, path, dest, limiter=self._resolvers
        )

    async def afetch_audio(self, url: str, path: str, dest: Path, max_bytes: int) -> Path:
        """Download a music bed into ``dest`` (named by its content hash)."""
        body = await self.afetch(url, path, max_bytes)
        return await anyio.to_thread.run_sync(
            store_audio, body, path, dest, limiter=self._resolvers
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        path: str,
        max_bytes: int,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Fetched:
        """``arequest`` from a thread that runs no event loop (the webhook senders)."""
        call = partial(self.arequest, method, url, path=path, max_bytes=max_bytes,
                       content=content, headers=headers, offload=False)  # fmt: skip
        return anyio.run(call)


async def _read_capped(response: httpx.Response, max_bytes: int, path: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _unsafe(path, f"is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise _unsafe(path, f"is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def store_image(data: bytes, path: str, dest: Path) -> Path:
    """Keep an image (fetched or uploaded) when its content is PNG, JPEG or WebP."""
    kind = sniff_image(data)
    if kind is None:
        raise _unsafe(path, "must be a PNG, JPEG or WebP image" if data else EMPTY)
    if (too_large := pixels_problem(data)) is not None:
        raise _unsafe(path, too_large)
    return _keep(data, IMAGE_TYPES[kind], dest)


def sniff_audio(data: bytes) -> str | None:
    """An audio file's suffix by magic bytes (WAV, FLAC, Ogg, MP3, MP4/M4A), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return ".wav"
    if data.startswith(b"fLaC"):
        return ".flac"
    if data.startswith(b"OggS"):
        return ".ogg"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return ".mp3"
    if data[4:8] == b"ftyp":
        return ".m4a"
    return None


def store_audio(data: bytes, path: str, dest: Path) -> Path:
    """Keep an audio file when its content is WAV, FLAC, Ogg, MP3 or MP4 audio (whether it
    decodes is checked with the rest of the storyboard, before any spend)."""
    suffix = sniff_audio(data)
    if suffix is None:
        raise _unsafe(path, "must be a WAV, FLAC, Ogg, MP3 or M4A audio file" if data else EMPTY)
    return _keep(data, suffix, dest)


def _keep(data: bytes, suffix: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / (hashlib.sha256(data).hexdigest()[:32] + suffix)
    if not out.exists():
        out.write_bytes(data)
    return out
