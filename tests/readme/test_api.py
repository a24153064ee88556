"""Every route of the HTTP API is in the README, and every route of ours the README names exists
with that method."""

from __future__ import annotations

import re
from functools import cache

import pytest
from fastapi.routing import iter_route_contexts

from api.app import create_app
from tests.readme import document

#: Swagger UI's own page for OAuth2 logins (fastapi's, served with /docs); nothing to document
UNDOCUMENTED = {("GET", "/docs/oauth2-redirect")}
#: the namespaces that are ours: elsewhere the README names providers' routes (/v1/videos and
#: /v1/models outside the provider tables' rows are ours too)
OURS = (
    "/v1/jobs",
    "/v1/dashboard",
    "/v1/storyboards",
    "/v1/webhooks",
    "/v1/providers",
    "/v1/costs",
    "/jobs/",
    "/dashboard",
    "/metrics",
    "/healthz",
    "/readyz",
    "/docs",
    "/redoc",
    "/openapi.json",
)
SHARED = ("/v1/videos", "/v1/models")
METHOD_PATH = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`),;?]*)")


def normal(path: str) -> str:
    """``/v1/jobs/{job_id}`` and ``/v1/jobs/{id}`` alike: ``/v1/jobs/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", path)


@cache
def routes() -> frozenset[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(create_app().routes):
        methods = getattr(route, "methods", None) or {"GET"}  # a mount serves files
        found |= {(m, normal(str(route.path))) for m in methods if m != "HEAD"}
    return frozenset(found - UNDOCUMENTED)


def readme_text() -> str:
    """The README with path parameters as ``{}`` and ``/v1/jobs[/{id}]`` written out both ways."""
    text = normal(document.text())
    return text + "\n" + re.sub(r"\[(/\{\})\]", r"\1", text) + "\n" + re.sub(r"\[/\{\}\]", "", text)


ROUTES = sorted(routes())


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_is_documented(method: str, path: str) -> None:
    """``METHOD /path``; a GET may be written as its path alone, and a job's sub-route as its
    tail (``/output/plan``) in the list after ``GET /v1/jobs/{id}/output``."""
    text = readme_text()
    written = [f"{method} {path}"]
    if method == "GET":
        written += [f"`{path}`", f"`{path}/`", f"`{path}?", f" {path} "]
        if path.startswith("/v1/jobs/{}/"):
            written.append(f"`{path.removeprefix('/v1/jobs/{}')}`")
    ends = r"(?![\w/{\[:-]|\.\w)"  # the whole path: not the start of a longer one
    assert any(re.search(re.escape(w) + ends, text) for w in written), (
        f"{method} {path} is not in the README"
    )


def test_every_route_named_exists() -> None:
    known = routes()
    wrong = []
    for number, line in document.lines_outside_code():
        for method, path in METHOD_PATH.findall(normal(line)):
            ours = path.startswith(OURS) or (path.startswith(SHARED) and not line.startswith("|"))
            variants = {(method, path.replace("[/{}]", x)) for x in ("", "/{}")}
            if ours and not variants <= known:
                wrong.append(f"line {number}: {method} {path}")
    assert wrong == []


def test_paths_are_compared_without_parameter_names() -> None:
    assert normal("/v1/jobs/{job_id}/shots/{shot}/thumb") == "/v1/jobs/{}/shots/{}/thumb"
    assert ("GET", "/v1/jobs/{}") in routes()
    assert "GET /v1/jobs/{}" in readme_text()


def test_a_route_is_not_found_in_a_longer_one() -> None:
    with pytest.raises(AssertionError, match="is not in the README"):
        test_every_route_is_documented("GET", "/v1/jobs/{}/out")  # of GET /v1/jobs/{id}/output
