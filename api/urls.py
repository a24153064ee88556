"""Outbound requests to caller-supplied URLs (webhooks, reference images), guarded against SSRF.

Only ``https`` (plain ``http`` only to hosts the operator lists); every address a host resolves to
must be public unless the operator allows that host; the check is repeated on every redirect. Bodies
are read with a size cap, and fetched images must be PNG, JPEG or WebP by content, not just header.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shotline.errors import InvalidInputError, Problem

Resolver = Callable[[str, int], list[str]]
REDIRECTS = {301, 302, 303, 307, 308}
IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


class UnsafeUrlError(InvalidInputError):
    """A URL the API will not call: wrong scheme, private address, unreachable, too large."""


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


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class UrlPolicy:
    http_hosts: frozenset[str] = frozenset()
    private_hosts: frozenset[str] = frozenset()
    resolve: Resolver = field(default=system_resolve, compare=False)

    def check(self, url: str, path: str) -> httpx.URL:
        """The parsed URL when the API may call it; raises ``UnsafeUrlError`` otherwise."""
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
            return parsed
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
        return parsed


@dataclass(frozen=True)
class Fetched:
    status_code: int
    content_type: str
    body: bytes
    url: str


@dataclass
class Outbound:
    """The one way the API calls out. ``client`` never follows redirects by itself."""

    policy: UrlPolicy
    client: httpx.Client
    max_redirects: int = 3

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
        """Send one request, following redirects (each re-checked). Network errors propagate as
        ``httpx.HTTPError``; policy and size violations raise ``UnsafeUrlError``."""
        target = self.policy.check(url, path)
        for _ in range(self.max_redirects + 1):
            request = self.client.build_request(method, target, content=content, headers=headers)
            response = self.client.send(request, stream=True, follow_redirects=False)
            try:
                location = response.headers.get("location")
                follow = method == "GET" or response.status_code in (307, 308)
                if response.status_code in REDIRECTS and location and follow:
                    target = self.policy.check(str(target.join(location)), path)
                    continue
                body = _read_capped(response, max_bytes, path)
            finally:
                response.close()
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return Fetched(response.status_code, content_type, body, str(target))
        raise _unsafe(path, f"more than {self.max_redirects} redirects")

    def fetch_image(self, url: str, path: str, dest: Path, max_bytes: int) -> Path:
        """Download a reference image into ``dest`` (named by its content hash)."""
        try:
            got = self.request("GET", url, path=path, max_bytes=max_bytes)
        except httpx.HTTPError as exc:
            raise _unsafe(path, f"could not be fetched ({type(exc).__name__})") from None
        if got.status_code != 200:
            raise _unsafe(path, f"answered HTTP {got.status_code}")
        return store_image(got.body, path, dest)


def _read_capped(response: httpx.Response, max_bytes: int, path: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _unsafe(path, f"is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise _unsafe(path, f"is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def sniff_image(data: bytes) -> str | None:
    """The image type by magic bytes: ``image/png``, ``image/jpeg``, ``image/webp`` or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def store_image(data: bytes, path: str, dest: Path) -> Path:
    """Keep an image (fetched or uploaded) when its content is PNG, JPEG or WebP."""
    kind = sniff_image(data)
    if kind is None:
        raise _unsafe(path, "must be a PNG, JPEG or WebP image")
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / (hashlib.sha256(data).hexdigest()[:32] + IMAGE_TYPES[kind])
    if not out.exists():
        out.write_bytes(data)
    return out
