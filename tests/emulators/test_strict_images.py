"""The image emulators refuse what each provider refuses, with its status and body, and the image
clients turn each refusal into the adapters' taxonomy."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from adapters._images_local import encode
from adapters.errors import RateLimitedError, RejectedInputError, SafetyRefusalError, TransientError
from adapters.image_clients import build_image_client
from adapters.images import ImageRequest, Reference
from emulators import EmulatorHandle, Scenario, start_emulator
from tests import web

PNG = encode(np.full((16, 16, 3), 90, np.uint8))
REF = Reference(PNG, "image/png")
FORBIDDEN = {"kind": "safety_refusal", "match": "forbidden"}
FLAKY = {"kind": "server_error", "match": "flaky", "status": 503}
SCENARIO = Scenario.model_validate(
    {
        "models": {
            "gpt-image-2": {"faults": [FORBIDDEN, FLAKY]},
            "fal-ai/flux/schnell": {
                "faults": [
                    FORBIDDEN,
                    FLAKY,
                    {"kind": "rate_limit", "match": "busy", "retry_after_s": 7},
                ]
            },
            "fal-ai/flux-pro/kontext": {"faults": [FORBIDDEN]},
            "gemini-2.5-flash-image": {"faults": [FORBIDDEN, FLAKY]},
        },
        "invalid_keys": ["sk-revoked", "id:revoked", "g-revoked"],
    }
)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with start_emulator(SCENARIO) as handle:
        yield handle


def post(emu: EmulatorHandle, path: str, **kwargs: object) -> httpx.Response:
    return web.post(f"{emu.base_url}{path}", timeout=30, **kwargs)


OPENAI = {"Authorization": "Bearer sk-test"}


class TestOpenAIImages:
    @pytest.mark.parametrize(
        ("body", "param", "code"),
        [
            ({"size": "1280x720", "model": "gpt-image-1.5"}, "size", "invalid_value"),
            ({"size": "1000x700"}, "size", "invalid_value"),
            ({"size": "3840x1024"}, "size", "invalid_value"),
            ({"size": "4096x2304"}, "size", "invalid_value"),
            ({"size": "800x800"}, "size", "invalid_value"),  # 640,000 pixels: under 655,360
            ({"size": "720x720"}, "size", "invalid_value"),
            ({"n": 11}, "n", "integer_above_max_value"),
            ({"n": 0}, "n", "integer_below_min_value"),
            ({"prompt": "x" * 32_001}, "prompt", "string_above_max_length"),
            ({"quality": "ultra"}, "quality", "invalid_value"),
            ({"model": "dall-e-4"}, "model", "invalid_value"),
            ({"response_format": "b64_json"}, "response_format", "unknown_parameter"),
            ({"style": "vivid"}, "style", "unknown_parameter"),
            ({"width": 1280}, "width", "unknown_parameter"),
            ({"quality": "xhigh"}, "quality", "invalid_value"),  # gpt-image-2.5 models only
        ],
    )
    def test_generation_refusals(self, emu, body, param, code):
        sent = {"model": "gpt-image-2", "prompt": "a fox"} | body
        answer = post(emu, "/openai/v1/images/generations", json=sent, headers=OPENAI)
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert (error["type"], error["param"], error["code"]) == (
            "invalid_request_error",
            param,
            code,
        )

    @pytest.mark.parametrize(
        "body",
        [
            {"model": "gpt-image-2.6-flare"},
            {"model": "gpt-image-2.5-sunburst", "quality": "max"},
            {"moderation": "low", "output_compression": 80, "output_format": "jpeg"},
        ],
    )
    def test_what_openai_3_60_lists_is_served(self, emu, body):
        sent = {"model": "gpt-image-2", "prompt": "a fox", "size": "1024x1024"} | body
        answer = post(emu, "/openai/v1/images/generations", json=sent, headers=OPENAI)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"][0]["b64_json"]

    def test_unknown_size_names_the_supported_ones(self, emu):
        sent = {"model": "gpt-image-1.5", "prompt": "a fox", "size": "1280x720"}
        answer = post(emu, "/openai/v1/images/generations", json=sent, headers=OPENAI)
        assert (
            "Supported values are: '1024x1024', '1536x1024', '1024x1536', and 'auto'."
            in (answer.json()["error"]["message"])
        )

    def test_gpt_image_2_draws_the_video_frame_exactly(self, emu):
        sent = {"model": "gpt-image-2", "prompt": "a fox", "size": "1280x720", "quality": "low"}
        answer = post(emu, "/openai/v1/images/generations", json=sent, headers=OPENAI)
        assert answer.status_code == 200
        assert answer.json()["size"] == "1280x720"

    def test_shut_down_models_are_not_found(self, emu):
        sent = {"model": "gpt-image-1", "prompt": "a fox"}
        answer = post(emu, "/openai/v1/images/generations", json=sent, headers=OPENAI)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "model_not_found")

    def test_missing_and_refused_keys_are_401(self, emu):
        sent = {"model": "gpt-image-2", "prompt": "a fox"}
        assert post(emu, "/openai/v1/images/generations", json=sent).status_code == 401
        revoked = {"Authorization": "Bearer sk-revoked"}
        answer = post(emu, "/openai/v1/images/generations", json=sent, headers=revoked)
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "invalid_api_key")

    def test_edits_take_at_most_16_images(self, emu):
        files = [("image[]", (f"r{i}.png", PNG, "image/png")) for i in range(17)]
        data = {"model": "gpt-image-2", "prompt": "mara"}
        answer = post(emu, "/openai/v1/images/edits", data=data, files=files, headers=OPENAI)
        assert answer.status_code == 400
        assert answer.json()["error"]["param"] == "image"

    def test_edits_refuse_a_non_image_type(self, emu):
        files = [("image[]", ("r.gif", b"GIF89a", "image/gif"))]
        data = {"model": "gpt-image-2", "prompt": "mara"}
        answer = post(emu, "/openai/v1/images/edits", data=data, files=files, headers=OPENAI)
        assert answer.json()["error"]["code"] == "unsupported_file_mimetype"

    def test_safety_refusal_is_moderation_blocked_and_classified(self, emu):
        sent = {"model": "gpt-image-2", "prompt": "a forbidden thing"}
        answer = post(emu, "/openai/v1/images/generations", json=sent, headers=OPENAI)
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "moderation_blocked")
        error = answer.json()["error"]
        assert error["type"] == "image_generation_user_error"
        assert error["moderation_details"]["moderation_stage"] in ("input", "output", "unknown")
        client = build_image_client(
            "openai_images", "openai", api_key="sk-test", base_url=f"{emu.base_url}/openai/v1"
        )
        with pytest.raises(SafetyRefusalError):
            client.generate(ImageRequest("gpt-image-2", "a forbidden thing", size="816x816"))
        with pytest.raises(RejectedInputError, match="1000x700"):
            client.generate(ImageRequest("gpt-image-2", "a fox", size="1000x700"))


FAL = {"Authorization": "Key id:secret"}


def fal_result(emu: EmulatorHandle, app: str, body: dict[str, object]) -> httpx.Response:
    submitted = post(emu, f"/fal/{app}", json=body, headers=FAL)
    assert submitted.status_code == 200, submitted.text
    return web.get(submitted.json()["response_url"], headers=FAL, timeout=30)


class TestFalImages:
    def test_bad_key_format_is_refused_at_submit(self, emu):
        answer = post(
            emu,
            "/fal/fal-ai/flux/schnell",
            json={"prompt": "x"},
            headers={"Authorization": "Key nocolon"},
        )
        assert answer.status_code == 401
        assert "Expected '<key_id>:<key_secret>'" in answer.json()["detail"]

    @pytest.mark.parametrize(
        ("app", "body", "loc", "kind"),
        [
            (
                "fal-ai/flux/schnell",
                {"prompt": "x", "num_images": 5},
                ["body", "num_images"],
                "less_than_equal",
            ),
            (
                "fal-ai/flux/schnell",
                {"prompt": "x", "num_inference_steps": 13},
                ["body", "num_inference_steps"],
                "less_than_equal",
            ),
            (
                "fal-ai/flux/schnell",
                {"prompt": "x", "image_size": {"width": 20000, "height": 10}},
                ["body", "image_size", "width"],
                "less_than_equal",
            ),
            (
                "fal-ai/flux/schnell",
                {"prompt": "x", "image_size": "widescreen"},
                ["body", "image_size"],
                "literal_error",
            ),
            ("fal-ai/flux/schnell", {"image_size": "square"}, ["body", "prompt"], "missing"),
            ("fal-ai/flux-pro/kontext", {"prompt": "x"}, ["body", "image_url"], "missing"),
            (
                "fal-ai/flux-pro/kontext/text-to-image",
                {"prompt": "x", "aspect_ratio": "5:4"},
                ["body", "aspect_ratio"],
                "literal_error",
            ),
        ],
    )
    def test_runner_refuses_after_the_queue_took_it(self, emu, app, body, loc, kind):
        answer = fal_result(emu, app, body)
        assert answer.status_code == 422
        assert any(d["loc"] == loc and d["type"] == kind for d in answer.json()["detail"])

    def test_flagged_schnell_image_is_black_and_refused_by_the_client(self, emu):
        answer = fal_result(
            emu, "fal-ai/flux/schnell", {"prompt": "forbidden", "image_size": "square"}
        )
        assert answer.json()["has_nsfw_concepts"] == [True]
        image = web.get(answer.json()["images"][0]["url"], timeout=30).content
        assert image[:3] == b"\xff\xd8\xff"  # jpeg, fal's default output_format
        client = build_image_client(
            "fal_queue", "fal", api_key="id:secret", base_url=f"{emu.base_url}/fal"
        )
        with pytest.raises(SafetyRefusalError, match="safety checker"):
            client.generate(ImageRequest("fal-ai/flux/schnell", "forbidden", size="64x64"))

    def test_flagged_kontext_prompt_is_a_content_policy_422(self, emu):
        uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
        answer = fal_result(
            emu, "fal-ai/flux-pro/kontext", {"prompt": "forbidden", "image_url": uri}
        )
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["type"] == "content_policy_violation"
        client = build_image_client(
            "fal_queue", "fal", api_key="id:secret", base_url=f"{emu.base_url}/fal"
        )
        with pytest.raises(SafetyRefusalError):
            client.generate(
                ImageRequest(
                    "fal-ai/flux-pro/kontext", "forbidden", aspect="1:1", references=(REF,)
                )
            )

    def test_rate_limit_carries_the_retry_hint(self, emu):
        client = build_image_client(
            "fal_queue", "fal", api_key="id:secret", base_url=f"{emu.base_url}/fal"
        )
        with pytest.raises(RateLimitedError) as info:
            client.generate(ImageRequest("fal-ai/flux/schnell", "busy street", size="64x64"))
        assert info.value.retry_after == 7

    def test_video_queue_paths_still_reach_the_video_apps(self, emu):
        submitted = web.post(
            f"{emu.base_url}/fal/fal-ai/veo3.1/fast", json={"prompt": "a kite"}, headers=FAL
        )
        assert submitted.status_code == 200, submitted.text
        request_id = submitted.json()["request_id"]
        status = web.get(
            f"{emu.base_url}/fal/fal-ai/veo3.1/fast/requests/{request_id}/status",
            headers=FAL,
            timeout=30,
        )
        assert status.status_code in (200, 202), status.text  # the video queue knows it
        assert status.json()["status"] in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")


GEMINI = {"x-goog-api-key": "g-key"}
FLASH = "/google/v1beta/models/gemini-2.5-flash-image:generateContent"


class TestGeminiImages:
    def test_no_key_is_403(self, emu):
        answer = post(emu, FLASH, json={"contents": [{"parts": [{"text": "x"}]}]})
        assert answer.status_code == 403
        assert answer.json()["error"]["status"] == "PERMISSION_DENIED"

    def test_unknown_aspect_is_invalid_argument(self, emu):
        body = {
            "contents": [{"parts": [{"text": "x"}]}],
            "generationConfig": {"imageConfig": {"aspectRatio": "5:4"}},
        }
        answer = post(emu, FLASH, json=body, headers=GEMINI)
        assert (answer.status_code, answer.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")

    def test_oversized_request_is_refused(self, emu):
        blob = base64.b64encode(b"\0" * (16 * 1024 * 1024)).decode()
        part = {"inlineData": {"mimeType": "image/png", "data": blob}}
        answer = post(
            emu, FLASH, json={"contents": [{"parts": [{"text": "x"}, part]}]}, headers=GEMINI
        )
        assert answer.status_code == 400
        assert "payload size exceeds the limit" in answer.json()["error"]["message"]

    def test_blocked_prompt_is_a_safety_refusal(self, emu):
        client = build_image_client(
            "gemini_image", "gemini", api_key="g", base_url=f"{emu.base_url}/google/v1beta"
        )
        with pytest.raises(SafetyRefusalError, match="PROHIBITED_CONTENT"):
            client.generate(ImageRequest("gemini-2.5-flash-image", "forbidden", aspect="1:1"))

    def test_imagen_is_gone_from_the_gemini_api(self, emu):
        body = {"instances": [{"prompt": "x"}], "parameters": {"sampleCount": 1}}
        answer = post(
            emu, "/google/v1beta/models/imagen-4.0-generate-001:predict", json=body, headers=GEMINI
        )
        assert (answer.status_code, answer.json()["error"]["status"]) == (404, "NOT_FOUND")


API_CASES = [
    (
        "openai_images",
        "openai",
        "/openai/v1",
        "sk-revoked",
        ImageRequest("gpt-image-2", "{}", size="816x816"),
    ),
    (
        "fal_queue",
        "fal",
        "/fal",
        "id:revoked",
        ImageRequest("fal-ai/flux/schnell", "{}", size="64x64"),
    ),
    (
        "gemini_image",
        "gemini",
        "/google/v1beta",
        "g-revoked",
        ImageRequest("gemini-2.5-flash-image", "{}", aspect="1:1"),
    ),
]


@pytest.mark.parametrize(
    ("api", "provider", "path", "revoked", "request_"),
    API_CASES,
    ids=lambda c: c if isinstance(c, str) else None,
)
def test_every_client_classifies_auth_and_server_failures(
    emu, api, provider, path, revoked, request_
):
    def ask(key: str, prompt: str) -> None:
        client = build_image_client(api, provider, api_key=key, base_url=emu.base_url + path)
        client.generate(ImageRequest(request_.model, prompt, request_.size, request_.aspect))

    with pytest.raises(RejectedInputError) as refused:
        ask(revoked, "a fox")
    assert not isinstance(refused.value, SafetyRefusalError)
    with pytest.raises(TransientError, match="503"):
        ask("k:ok", "a flaky fox")
