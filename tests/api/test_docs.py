"""``/docs`` and ``/redoc`` load every asset from the app itself (the ``fastapi-offline`` wheel), and
Swagger UI renders the API's operations in headless Chromium with every other host unreachable."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.api.browser import Dom
from tests.api.browser import browse as _browse

ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class Refs(HTMLParser):
    """Every ``src``, ``href`` and ``spec-url`` of a page, and the URLs named inside its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]
        self._script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._script = False

    def handle_data(self, data: str) -> None:
        if self._script:
            self.urls += re.findall(r"""(?:url|spec-url)\s*:\s*['"]([^'"]+)['"]""", data)


def _refs(html: str) -> list[str]:
    parser = Refs()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_page_references_only_its_own_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"https?://|//cdn|fonts\.googleapis", html), "an external URL remains"
    urls = _refs(html)
    assets = [u for u in urls if u.startswith("/docs/assets/")]
    assert "/openapi.json" in urls, urls
    assert any(u.endswith(".js") for u in assets), urls
    assert set(urls) - set(assets) <= {"/openapi.json"}, urls
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        kind = ASSET_TYPES[url[url.rfind(".") :]]
        assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 1000, url


def test_swagger_assets_are_the_real_bundles(client):
    js = client.get("/docs/assets/swagger-ui-bundle.js").text
    css = client.get("/docs/assets/swagger-ui.css").text
    redoc = client.get("/docs/assets/redoc.standalone.js").text
    assert "SwaggerUIBundle" in js
    assert ".swagger-ui" in css
    assert "Redoc" in redoc


def test_default_cdn_pages_are_gone(app):
    assert app.docs_url is None
    assert app.redoc_url is None
    paths = app.openapi()["paths"]
    assert not any(p.startswith(("/docs", "/redoc")) for p in paths)


def test_swagger_ui_renders_offline(live_url, chromium):
    offline = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
    dom = Dom()
    dom.feed(_browse(chromium, f"{live_url}/docs", offline, "--dump-dom", size=(1280, 900)))
    operations = [n for n in dom.nodes if "opblock-summary-path" in n.get("class", "")]
    paths = {n.get("data-path") or n["text"].strip() for n in operations}
    assert "/v1/jobs" in paths, sorted(paths)[:10]
    redoc = Dom()
    redoc.feed(_browse(chromium, f"{live_url}/redoc", offline, "--dump-dom", size=(1280, 900)))
    text = " ".join(n["text"] for n in redoc.nodes if n["tag"] == "body")
    assert "Storyboard jobs" in text, text[:300]


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_docs_pages_cannot_be_framed(client, page):
    """Swagger UI takes a bearer key in "Authorize": its page could be framed (clickjacking) and
    sent no security header at all (browser audit)."""
    answer = client.get(page)
    assert answer.status_code == 200
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_every_answer_is_nosniff_and_the_pages_keep_their_own_policy(client, headers):
    """A JSON error echoing input is never sniffed as HTML; the review page's own strict CSP is
    left as it is."""
    missing = client.get("/v1/jobs/%3Cimg%3E", headers=headers)
    assert missing.headers["x-content-type-options"] == "nosniff"
    page = client.get("/dashboard")
    assert "default-src 'none'" in page.headers["content-security-policy"]
