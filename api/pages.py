"""The built-in pages: ``/dashboard`` (costs, filters, drill-down) and ``/jobs/{id}/review``
(approve a preview's shots and commit them). Each is one HTML file with inline CSS and JS, makes
no external request, and is allowed only its own inline code by its Content-Security-Policy. Both
call the JSON API with the API key the user gives them (kept in the tab's ``sessionStorage``);
clips and thumbnails are fetched with that key and shown from ``blob:`` URLs."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["dashboard"])


def _hashes(html: str, tag: str) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
    )


@cache
def page(name: str) -> tuple[str, str]:
    """The page's HTML and its Content-Security-Policy (hashes of its inline script/style)."""
    html = resources.files("api.static").joinpath(name).read_text(encoding="utf-8")
    policy = (
        f"default-src 'none'; script-src {_hashes(html, 'script')}; "
        f"style-src {_hashes(html, 'style')}; connect-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return html, policy


def _serve(name: str) -> HTMLResponse:
    html, policy = page(name)
    headers = {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }
    return HTMLResponse(html, headers=headers)


@router.get("/dashboard", response_class=HTMLResponse, summary="The built-in cost dashboard")
def dashboard() -> HTMLResponse:
    return _serve("dashboard.html")


@router.get(
    "/jobs/{job_id}/review",
    response_class=HTMLResponse,
    include_in_schema=False,  # a page for any id (it asks the API); nothing to document or fuzz
    summary="The review page of a preview: watch each shot, see its final quote, commit",
)
def review(job_id: str) -> HTMLResponse:
    return _serve("review.html")
