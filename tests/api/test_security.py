"""Keys, idempotency, rate and size limits, and the outbound URL policy (SSRF guards)."""

from __future__ import annotations

import logging

import anyio
import cv2
import httpx
import numpy as np
import pytest
import yaml

from api import auth
from api.ratelimit import RateLimiter
from api.urls import Outbound, UnsafeUrlError, UrlPolicy, store_image
from foundation.errors import InvalidInputError
from media.images import sniff_image
from tests.api.conftest import fake_resolve, tiny_board, wait_for_job
from tests.media.declared import png_declaring

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
# a reference image a job uses must decode: the image safety classifier screens it
DECODABLE_PNG = cv2.imencode(".png", np.full((16, 16, 3), 90, np.uint8))[1].tobytes()


class TestKeys:
    def test_missing_or_unknown_key_is_401_with_the_error_shape(self, client):
        for headers in ({}, {"Authorization": "Bearer sl_nope"}, {"Authorization": "Basic x"}):
            answer = client.get("/v1/jobs", headers=headers)
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"] == "Bearer"
            assert answer.json()["error"] == "unauthorized"

    def test_keys_are_stored_hashed_and_revocable(self, ctx, client):
        key = auth.create_key(ctx.db_url, "acme")
        from store.db import session_scope
        from store.models import ApiKey

        with session_scope(ctx.db_url) as session:
            stored = session.query(ApiKey.key_hash).scalar()
        assert stored == auth.hash_key(key) != key
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/jobs", headers=headers).status_code == 200
        assert auth.revoke_key(ctx.db_url, key)
        assert client.get("/v1/jobs", headers=headers).status_code == 401

    def test_bad_tenant_names_are_refused(self, ctx):
        with pytest.raises(InvalidInputError):
            auth.create_key(ctx.db_url, "../etc")

    def test_keys_never_reach_the_logs(self, client, key, headers, caplog):
        caplog.set_level(logging.DEBUG)
        client.post("/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers)
        client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}x"})
        client.get("/v1/jobs/missing", headers=headers)
        assert caplog.records
        assert key not in caplog.text
        assert key[3:] not in caplog.text


class TestIdempotency:
    def test_a_replay_returns_the_first_response_and_creates_no_second_job(self, client, headers):
        request = {
            "json": {"storyboard": tiny_board(1)},
            "headers": {**headers, "Idempotency-Key": "order-42"},
        }
        first = client.post("/v1/jobs", **request)
        second = client.post("/v1/jobs", **request)
        assert first.status_code == second.status_code == 202
        assert second.json() == first.json()
        assert second.headers["idempotent-replayed"] == "true"
        assert len(client.get("/v1/jobs", headers=headers).json()["data"]) == 1
        wait_for_job(client, first.json()["id"], headers)

    def test_same_key_with_another_body_is_refused(self, client, headers):
        keyed = {**headers, "Idempotency-Key": "k1"}
        client.post("/v1/jobs:plan", json={"storyboard": tiny_board(1)}, headers=keyed)
        other = client.post("/v1/jobs:plan", json={"storyboard": tiny_board(2)}, headers=keyed)
        assert other.status_code == 422
        assert other.json()["error"] == "idempotency_key_reused"

    def test_keys_are_scoped_per_tenant_and_errors_are_replayed_too(
        self, client, headers, other_headers
    ):
        bad = {"json": {"storyboard": {"title": ""}}}
        one = client.post("/v1/jobs", headers={**headers, "Idempotency-Key": "same"}, **bad)
        two = client.post("/v1/jobs", headers={**other_headers, "Idempotency-Key": "same"}, **bad)
        again = client.post("/v1/jobs", headers={**headers, "Idempotency-Key": "same"}, **bad)
        assert one.status_code == two.status_code == again.status_code == 422
        assert "idempotent-replayed" not in two.headers
        assert again.headers["idempotent-replayed"] == "true"


class TestLimits:
    def test_rate_limit_answers_429_with_retry_after(self, client, headers, app):
        app.state.api.limiter = RateLimiter(rate_per_minute=1, burst=2)
        codes = [client.get("/v1/jobs", headers=headers).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = client.get("/v1/jobs", headers=headers)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["retriable"] is True

    def test_token_bucket_refills(self):
        now = [0.0]
        limiter = RateLimiter(rate_per_minute=60, burst=1, clock=lambda: now[0])
        assert limiter.take("k") == 0
        assert limiter.take("k") == pytest.approx(1.0)
        now[0] = 1.0
        assert limiter.take("k") == 0

    def test_oversized_bodies_are_413_declared_or_streamed(self, client, headers, app):
        limit = app.state.api.settings.max_body_bytes
        big = b"x" * (limit + 1)
        declared = client.post(
            "/v1/jobs", content=big, headers={**headers, "content-type": "application/yaml"}
        )
        assert declared.status_code == 413
        assert declared.json()["error"] == "payload_too_large"

        def chunks():
            for _ in range(limit // 65536 + 2):
                yield b"y" * 65536

        streamed = client.post(
            "/v1/jobs", content=chunks(), headers={**headers, "content-type": "application/yaml"}
        )
        assert streamed.status_code == 413


def _outbound(handler, **policy) -> Outbound:
    return Outbound(UrlPolicy(resolve=fake_resolve, **policy), httpx.MockTransport(handler))


class TestUrlPolicy:
    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://example.com/x.png", "https"),
            ("ftp://example.com/x.png", "https"),
            ("https://10.1.2.3/x.png", "non-public"),
            ("https://127.0.0.1/x.png", "non-public"),
            ("https://[::1]/x.png", "non-public"),
            ("https://169.254.169.254/latest/meta-data", "non-public"),
            ("https://[::ffff:127.0.0.1]/x", "non-public"),
            # IPv4 embedded in IPv6 (NAT64, 6to4, IPv4-compatible) passed as public: on a network
            # with NAT64 (AWS's IPv6-only subnets) 64:ff9b::a00:7 is the VPC's 10.0.0.7
            ("https://[64:ff9b::a00:7]/x", "non-public"),
            ("https://[64:ff9b::a9fe:a9fe]/x", "non-public"),
            ("https://[2002:7f00:1::1]/x", "non-public"),
            ("https://[::127.0.0.1]/x", "non-public"),
            ("https://db.internal/x.png", "non-public"),
            ("https://nowhere.unknown/x.png", "cannot be resolved"),
            ("https://user:pw@example.com/x.png", "credentials"),
            ("not a url", "no host"),
        ],
    )
    def test_refused_urls(self, url, reason):
        with pytest.raises(UnsafeUrlError) as caught:
            UrlPolicy(resolve=fake_resolve).check(url, "webhook_url")
        assert reason in caught.value.problems[0].message
        assert caught.value.problems[0].path == "webhook_url"

    @pytest.mark.parametrize(
        "address", ["64:ff9b::5db8:d70e", "2002:5db8:d70e::1", "2606:4700:4700::1111"]
    )
    def test_ipv6_embedding_a_public_ipv4_is_public(self, address):
        url = f"https://[{address}]/x"
        assert UrlPolicy(resolve=fake_resolve).check(url, "u").host == address

    def test_operator_allowances(self):
        policy = UrlPolicy(
            http_hosts=frozenset({"hooks.test"}),
            private_hosts=frozenset({"db.internal"}),
            resolve=fake_resolve,
        )
        assert policy.check("http://hooks.test/in", "u").host == "hooks.test"
        assert policy.check("https://db.internal/x", "u").host == "db.internal"
        assert policy.check("https://example.com/x", "u").host == "example.com"

    def test_redirects_are_checked_again(self):
        def handler(request):
            if request.url.host == "example.com":
                return httpx.Response(302, headers={"location": "https://169.254.169.254/"})
            return httpx.Response(200, content=PNG)

        with pytest.raises(UnsafeUrlError, match="non-public"):
            _outbound(handler).request("GET", "https://example.com/a", path="p", max_bytes=100)

    def test_size_and_type_limits(self, tmp_path):
        outbound = _outbound(
            lambda r: httpx.Response(
                200, content=PNG if r.url.path == "/ok.png" else b"<html>x</html>" * 50
            )
        )
        saved = anyio.run(outbound.afetch_image, "https://example.com/ok.png", "p", tmp_path, 1000)
        assert saved.read_bytes() == PNG
        with pytest.raises(UnsafeUrlError, match="PNG, JPEG or WebP"):
            anyio.run(outbound.afetch_image, "https://example.com/page", "p", tmp_path, 1000)
        with pytest.raises(UnsafeUrlError, match="larger than"):
            anyio.run(outbound.afetch_image, "https://example.com/page", "p", tmp_path, 100)

    def test_an_empty_image_is_named_empty(self, tmp_path):
        with pytest.raises(UnsafeUrlError, match=r"^p: is empty \(0 bytes\)"):
            store_image(b"", "p", tmp_path / "refs")
        assert not (tmp_path / "refs").exists()

    def test_sniffing(self):
        assert sniff_image(PNG) == "image/png"
        assert sniff_image(b"\xff\xd8\xff\xe0") == "image/jpeg"
        assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
        assert sniff_image(b"GIF89a") is None


class TestSubmissionChecks:
    def test_private_webhook_url_is_refused_before_any_job(self, client, headers):
        answer = client.post(
            "/v1/jobs",
            json={"storyboard": tiny_board(1), "webhook_url": "https://10.0.0.1/hook"},
            headers=headers,
        )
        assert answer.status_code == 422
        assert answer.json()["problems"][0]["path"] == "webhook_url"
        assert client.get("/v1/jobs", headers=headers).json()["data"] == []

    def test_reference_images_are_fetched_checked_and_local_paths_refused(
        self, client, headers, network
    ):
        network.routes["cdn.example.com"] = lambda r: httpx.Response(200, content=DECODABLE_PNG)
        board = tiny_board(2)
        shots = board["scenes"][0]["shots"]
        shots[0]["reference_image"] = "/etc/passwd"
        shots[1]["reference_image"] = "https://cdn.example.com/ref.png"
        refused = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
        assert refused.status_code == 422
        assert [p["path"] for p in refused.json()["problems"]] == [
            "storyboard.scenes[0].shots[0].reference_image"
        ]
        del shots[0]["reference_image"]
        plan = client.post("/v1/jobs:plan", json={"storyboard": board}, headers=headers)
        assert plan.status_code == 200
        accepted = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
        assert accepted.status_code == 202, accepted.text
        assert str(network.requests[-1].url) == "https://cdn.example.com/ref.png"
        wait_for_job(client, accepted.json()["id"], headers)


def test_a_fetched_image_declaring_too_many_pixels_is_refused_and_not_kept(
    client, headers, network, ctx
):
    network.routes["cdn.example.com"] = lambda r: httpx.Response(
        200, content=png_declaring(32000, 32000)
    )
    board = tiny_board(1)
    board["scenes"][0]["shots"][0]["reference_image"] = "https://cdn.example.com/bomb.png"
    refused = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert refused.status_code == 422
    [problem] = refused.json()["problems"]
    assert problem["path"] == "storyboard.scenes[0].shots[0].reference_image"
    assert "declares 32000x32000 pixels" in problem["message"]
    # a YAML body is the storyboard itself: its paths start at the top, as validation's do
    as_yaml = {**headers, "content-type": "application/yaml"}
    refused = client.post("/v1/jobs", content=yaml.safe_dump(board), headers=as_yaml)
    assert refused.status_code == 422
    assert [p["path"] for p in refused.json()["problems"]] == ["scenes[0].shots[0].reference_image"]
    assert not list((ctx.settings.assets / "references").rglob("*.png"))
    assert client.get("/v1/jobs", headers=headers).json()["data"] == []


def test_character_reference_images_are_fetched_and_local_paths_refused(client, headers, network):
    network.routes["cdn.example.com"] = lambda r: httpx.Response(200, content=DECODABLE_PNG)
    board = tiny_board(2)
    board["scenes"][0]["shots"][0]["characters"] = ["mara"]
    mara = {"id": "mara", "description": "silver hair", "reference_images": ["/etc/passwd"]}
    board["characters"] = [mara]
    refused = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert refused.status_code == 422
    assert [p["path"] for p in refused.json()["problems"]] == [
        "storyboard.characters[0].reference_images[0]"
    ]
    mara["reference_images"] = ["https://cdn.example.com/mara.png"]
    accepted = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert str(network.requests[-1].url) == "https://cdn.example.com/mara.png"
    assert wait_for_job(client, accepted.json()["id"], headers)["status"] == "delivered"


def test_fetched_inputs_are_kept_per_tenant(client, headers, network, ctx):
    """Two tenants sending the same image get a copy each, in their own directory: deleting or
    changing one tenant's inputs never touches another's."""
    network.routes["cdn.example.com"] = lambda r: httpx.Response(200, content=DECODABLE_PNG)
    other = {"Authorization": f"Bearer {auth.create_key(ctx.db_url, 'other')}"}
    board = tiny_board(1)
    board["scenes"][0]["shots"][0]["reference_image"] = "https://cdn.example.com/same.png"
    for who in (headers, other):
        answer = client.post("/v1/jobs:plan", json={"storyboard": board}, headers=who)
        assert answer.status_code == 200, answer.text
        accepted = client.post("/v1/jobs", json={"storyboard": board}, headers=who)
        assert accepted.status_code == 202, accepted.text
        wait_for_job(client, accepted.json()["id"], who)
    kept = sorted(p.parent.name for p in (ctx.settings.assets / "references").rglob("*.png"))
    assert kept == ["acme", "other"]


def test_a_keyframe_url_is_fetched_and_becomes_the_first_frame(client, headers, network):
    """Before, the plan accepted a keyframe URL and the job then refused it, naming the fetched
    file's path on the server's disk beside the URL still in the shot's reference_image."""
    network.routes["cdn.example.com"] = lambda r: httpx.Response(200, content=DECODABLE_PNG)
    board = tiny_board(2)
    board["scenes"][0]["shots"][1]["keyframe"] = "https://cdn.example.com/first.png"
    plan = client.post("/v1/jobs:plan", json={"storyboard": board}, headers=headers)
    assert plan.status_code == 200, plan.text
    accepted = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert str(network.requests[-1].url) == "https://cdn.example.com/first.png"
    assert wait_for_job(client, accepted.json()["id"], headers)["status"] == "delivered"


@pytest.mark.parametrize("field", ["reference_image", "keyframe"])
def test_the_plan_reads_no_file_on_the_servers_disk(client, headers, tmp_path, field):
    """Before, the dry run opened the paths a tenant named: an image on the server's disk was
    planned (200), another file was "not a readable image", a missing one "not a file", so any
    tenant could learn which files the server holds."""
    (tmp_path / "image.png").write_bytes(DECODABLE_PNG)
    (tmp_path / "notes.txt").write_text("x")
    answers = []
    for name in ("image.png", "notes.txt", "missing.png"):
        board = tiny_board(1)
        board["scenes"][0]["shots"][0][field] = str(tmp_path / name)
        answer = client.post("/v1/jobs:plan", json={"storyboard": board}, headers=headers)
        assert answer.status_code == 422, answer.text[:300]
        answers.append(answer.json()["problems"])
    assert answers[0] == answers[1] == answers[2]
    assert [p["path"] for p in answers[0]] == [f"storyboard.scenes[0].shots[0].{field}"]
