"""Credentials stay at home: a provider's key goes only to its API origins, never to the host of an
output file (a CDN, a presigned S3/GCS URL), whether reached directly or through a redirect; and a
refused presigned URL is refreshed by polling the job again, never classified as bad input.

The provider and the file host are two real HTTP servers on loopback (two ports: two origins), so
the redirects are httpx's own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from adapters._hosted import HostedAdapter
from adapters._http import origin_of
from adapters.download import UrlExpiredError
from adapters.errors import RejectedInputError, TransientError
from adapters.factory import HOSTED, build_adapter
from adapters.google import VeoAdapter
from adapters.luma import AGENTS_BASE
from emulators.media import ClipSpec, render_clip
from foundation.errors import InvalidInputError
from foundation.settings import Settings
from registry import load_registry

SECRET = "sk-canary-7f3a"
S3_EXPIRED = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
S3_TWO_AUTHS = (
    b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>"
)
Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Origin:
    """One loopback HTTP server: answers through ``route``, records every request it sees."""

    route: Callable[[str], Reply]
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def headers_of(self, prefix: str) -> list[dict[str, str]]:
        return [headers for path, headers in self.seen if path.startswith(prefix)]


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[str], Reply]], Origin]]:
    servers: list[ThreadingHTTPServer] = []

    def start(route: Callable[[str], Reply]) -> Origin:
        origin = Origin(route)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                origin.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = origin.route(self.path)
                self.send_response(status)
                for name, value in {"content-length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                """Quiet: what a test needs is in ``origin.seen``."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        origin.url = f"http://127.0.0.1:{server.server_address[1]}"
        return origin

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    spec = ClipSpec("replicate", "emu", "a kite", 1.0, 160, 90, fps=12.0)
    return render_clip(spec, tmp_path_factory.mktemp("clip") / "c.mp4").read_bytes()


def mp4(clip: bytes) -> Reply:
    return 200, {"content-type": "video/mp4"}, clip


def redirect(to: str) -> Reply:
    return 302, {"location": to}, b""


def prediction(output: str) -> Reply:
    body = {"id": "p1", "status": "succeeded", "output": output}
    return 200, {"content-type": "application/json"}, json.dumps(body).encode()


def replicate(api: Origin) -> HostedAdapter:
    adapter = build_adapter(
        "replicate", settings=Settings(replicate_api_token=SECRET), base_url=api.url
    )
    assert isinstance(adapter, HostedAdapter)
    return adapter


def leaked(headers: dict[str, str]) -> list[str]:
    return [name for name, value in headers.items() if SECRET in value]


def test_httpx_alone_forwards_custom_key_headers_across_origins():
    """Why the guard exists (httpx 0.29.0 ``_client.py`` ``_redirect_headers``): a cross-origin
    redirect drops ``Authorization`` but keeps any other header, such as Gemini's
    ``x-goog-api-key``."""
    seen: dict[str, httpx.Headers] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers
        if request.url.host == "api.test":
            return httpx.Response(302, headers={"location": "https://cdn.test/clip.mp4"})
        return httpx.Response(200, content=b"x")

    headers = {"Authorization": f"Bearer {SECRET}", "x-goog-api-key": SECRET}
    transport = httpx.MockTransport(handler)
    with httpx.Client(headers=headers, transport=transport, follow_redirects=True) as client:
        client.get("https://api.test/v1beta/files/f:download")
    assert "authorization" not in seen["cdn.test"]
    assert seen["cdn.test"]["x-goog-api-key"] == SECRET


def test_output_on_another_origin_gets_no_credential(serve, clip: bytes, tmp_path: Path):
    cdn = serve(lambda path: mp4(clip))
    api = serve(lambda path: prediction(f"{cdn.url}/clip.mp4?X-Amz-Signature=abc"))
    asset = replicate(api).fetch("p1", tmp_path)
    assert asset.path.read_bytes() == clip
    assert api.headers_of("/v1/")[0]["authorization"] == f"Bearer {SECRET}"
    assert [leaked(h) for h in cdn.headers_of("/clip.mp4")] == [[]]


def test_redirect_from_the_provider_origin_drops_the_credential(serve, clip: bytes, tmp_path: Path):
    cdn = serve(lambda path: mp4(clip))

    def provider(path: str) -> Reply:
        if path.startswith("/v1/predictions/"):
            return prediction(f"{api.url}/files/p1")
        return redirect(f"{cdn.url}/clip.mp4?X-Amz-Signature=abc")

    api = serve(provider)
    replicate(api).fetch("p1", tmp_path)
    assert api.headers_of("/files/")[0]["authorization"] == f"Bearer {SECRET}"
    assert [leaked(h) for h in cdn.headers_of("/clip.mp4")] == [[]]


@pytest.mark.parametrize("provider", sorted(HOSTED))
def test_no_provider_sends_its_key_to_a_foreign_origin(provider: str):
    """Every adapter's auth (Bearer, ``Key``, ``x-goog-api-key``, Kling's minted JWT) stays on its
    API origin, for a direct request and for each redirect hop that leaves it."""
    seen: list[tuple[str, httpx.Headers]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((origin_of(request.url), request.headers))
        if request.url.path == "/hop":
            return httpx.Response(302, headers={"location": "https://cdn.test/clip.mp4"})
        return httpx.Response(200, content=b"x")

    key = "ak-canary:sk-canary-7f3a" if provider == "kling" else SECRET
    cls = HOSTED[provider]
    transport = httpx.MockTransport(handler)
    adapter = (
        VeoAdapter(api_key=key, transport=transport, project="p1")  # Vertex paths name a project
        if cls is VeoAdapter
        else cls(api_key=key, transport=transport)
    )
    home = origin_of(cls.default_base_url)
    adapter._http.client.get("https://cdn.test/direct.mp4")
    adapter._http.client.get(f"{home}/hop")
    on_cdn = [headers for origin, headers in seen if origin == "https://cdn.test"]
    at_home = [headers for origin, headers in seen if origin == home]
    assert len(on_cdn) == 2
    assert len(at_home) == 1
    for headers in on_cdn:
        assert "authorization" not in headers
        assert "x-goog-api-key" not in headers
        assert not leaked(dict(headers))
    assert "authorization" in at_home[0] or "x-goog-api-key" in at_home[0]


class TestRefusedPresignedUrl:
    @pytest.mark.parametrize(("status", "body"), [(403, S3_EXPIRED), (400, S3_TWO_AUTHS)])
    def test_refusal_repolls_and_delivers_from_the_fresh_url(
        self, serve, clip: bytes, tmp_path: Path, status: int, body: bytes
    ):
        cdn = serve(lambda path: mp4(clip) if "sig=2" in path else (status, {}, body))
        polls: list[str] = []

        def provider(path: str) -> Reply:
            polls.append(path)
            return prediction(f"{cdn.url}/clip.mp4?sig={len(polls)}")

        api = serve(provider)
        asset = replicate(api).fetch("p1", tmp_path)
        assert asset.path.read_bytes() == clip
        assert len(polls) == 2
        assert [p for p, _ in cdn.seen] == ["/clip.mp4?sig=1", "/clip.mp4?sig=2"]
        assert not any(leaked(h) for _, h in cdn.seen)

    @pytest.mark.empty_data_dir
    def test_refused_every_time_fails_as_transient_after_bounded_refreshes(
        self, serve, tmp_path: Path
    ):
        cdn = serve(lambda path: (400, {"content-type": "application/xml"}, S3_TWO_AUTHS))
        api = serve(lambda path: prediction(f"{cdn.url}/clip.mp4"))
        adapter = replicate(api)
        with pytest.raises(UrlExpiredError, match=r"HTTP 400 \(InvalidArgument\)") as info:
            adapter.fetch("p1", tmp_path)
        assert isinstance(info.value, TransientError)
        assert not isinstance(info.value, RejectedInputError)
        assert info.value.kind == "transient"
        assert len(api.headers_of("/v1/predictions/")) == 1 + adapter.limits.url_refreshes
        assert not list(tmp_path.iterdir())


class TestAllowlist:
    def test_registry_lists_every_adapter_origin(self):
        registry = load_registry()
        for provider, cls in HOSTED.items():
            assert origin_of(cls.default_base_url) in registry.api_origins(provider), provider
        assert AGENTS_BASE in registry.api_origins("luma")
        assert registry.api_origins("local") == ()

    def test_base_url_outside_the_allowlist_is_refused(self):
        settings = Settings(runway_api_key=SECRET)
        with pytest.raises(InvalidInputError, match=r"refusing to send the runway credential"):
            build_adapter(
                "runway",
                settings=settings,
                base_url="https://collector.example",
                api_origins=load_registry().api_origins("runway"),
            )

    def test_registry_origins_are_allowed(self):
        settings = Settings(luma_api_key=SECRET)
        adapter = build_adapter("luma", settings=settings, api_origins=("https://api.lumalabs.ai",))
        assert isinstance(adapter, HostedAdapter)
        assert adapter._http.api_origins == {"https://api.lumalabs.ai", AGENTS_BASE}

    def test_the_emulator_origin_is_allowed_automatically(self):
        settings = Settings(emulator_url="http://emulator:8100/")
        adapter = build_adapter(
            "runway",
            settings=settings,
            base_url="http://emulator:8100/runway",
            api_origins=("https://api.dev.runwayml.com",),
        )
        assert isinstance(adapter, HostedAdapter)
        assert adapter._http.api_origins == {"http://emulator:8100"}

    def test_the_pipeline_builds_adapters_with_the_registry_allowlist(self):
        from pipeline.context import RunContext

        ctx = RunContext.create("live", Settings(kling_api_key=SECRET))
        adapter = ctx.adapter("kling")
        assert isinstance(adapter, HostedAdapter)
        assert adapter._http.api_origins == set(ctx.registry.api_origins("kling"))
