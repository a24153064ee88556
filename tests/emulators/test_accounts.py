"""The emulated account/catalog endpoints refuse exactly the credentials the create routes refuse,
and answer a good key; none of them counts as a submission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators import EmulatorHandle, start_emulator
from emulators.scenario import Scenario
from tests import web

VERTEX = "/google/v1/projects/p/locations/us-central1/publishers/google/models"
# provider: (auth scheme, a create path, a catalog path)
ROUTES = {
    "runway": ("Bearer", "/runway/v1/text_to_video", "/runway/v1/organization"),
    "openai": ("Bearer", "/openai/v1/videos", "/openai/v1/models"),
    "replicate": (
        "Bearer",
        "/replicate/v1/models/google/veo-3.1-fast/predictions",
        "/replicate/v1/account",
    ),
    "luma": (
        "Bearer",
        "/luma/dream-machine/v1/generations/video",
        "/luma/dream-machine/v1/credits",
    ),
    "fal": ("Key", "/fal/fal-ai/veo3.1/fast", "/fal/v1/models/pricing?endpoint_id=fal-ai/veo3.1"),
    "kling": ("Bearer", "/kling/text-to-video/kling-3.0", "/kling/tasks?task_ids=x"),
    "google": (
        "Bearer",
        f"{VERTEX}/veo-3.1-fast-generate-001:predictLongRunning",
        "/google/v1beta1/publishers/google/models/veo-3.1-fast-generate-001",
    ),
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(Scenario(invalid_keys=["revoked-key"])) as handle:
        yield handle


@pytest.mark.parametrize("provider", sorted(ROUTES))
def test_a_revoked_key_is_refused_by_create_and_catalog_alike(emulator, provider):
    scheme, create, catalog = ROUTES[provider]
    headers = {"Authorization": f"{scheme} revoked-key", "X-Runway-Version": "2024-11-06"}
    made = web.post(emulator.base_url + create, json={"prompt": "a kite"}, headers=headers)
    listed = web.get(emulator.base_url + catalog, headers=headers)
    assert made.status_code == 401, made.text
    assert listed.status_code == 401, listed.text
    anonymous = web.get(emulator.base_url + catalog, headers={"X-Runway-Version": "2024-11-06"})
    assert anonymous.status_code == 401, anonymous.text
    good = {"Authorization": f"{scheme} emulator-key", "X-Runway-Version": "2024-11-06"}
    assert web.get(emulator.base_url + catalog, headers=good).status_code == 200
    assert emulator.stats()["submissions"] == {}


def test_unlisted_models_leave_the_catalogs_but_nothing_else():
    dropped = ["veo3.1_fast", "sora-2", "veo-3.1-lite-generate-001"]
    with start_emulator(Scenario(unlisted_models=dropped)) as handle:
        key = {"Authorization": "Bearer k", "X-Runway-Version": "2024-11-06"}
        org = web.get(handle.base_url + "/runway/v1/organization", headers=key).json()
        assert "veo3.1_fast" not in org["tier"]["models"]
        assert "veo3.1" in org["tier"]["models"]
        models = web.get(handle.base_url + "/openai/v1/models", headers=key).json()
        assert "sora-2" not in [m["id"] for m in models["data"]]
        gone = web.get(handle.base_url + "/openai/v1/models/sora-2", headers=key)
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "model_not_found"
        lite = "/google/v1beta1/publishers/google/models/veo-3.1-lite-generate-001"
        answer = web.get(handle.base_url + lite, headers=key)
        assert answer.status_code == 404
        assert answer.json()["error"]["status"] == "NOT_FOUND"
