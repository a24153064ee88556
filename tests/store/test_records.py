"""The typed records of the JSON columns read and write the JSON shape rows have always held."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from foundation.settings import get_settings
from pipeline import requests
from pipeline.context import RunContext
from pipeline.planning import create_job
from store import jobs
from store.db import session_scope
from store.records import RouteCandidate, ShotRoute, StoredRequest
from tests.pipeline.conftest import shot, tiny_board

# A shot's route and an attempt's request exactly as an earlier release stored them.
OLD_CANDIDATES: list[dict[str, Any]] = [
    {
        "model_id": "runway/gen4-turbo",
        "provider": "runway",
        "provider_model": "gen4_turbo",
        "quote_usd": 0.25,
        "duration_s": 5.0,
        "width": 1280,
        "height": 720,
        "fps": 24.0,
        "audio": False,
        "adaptations": ["duration 4s -> 5s"],
        "params": {"ratio": "1280:720"},
    },
    {
        "model_id": "local/animatic",
        "provider": "local",
        "provider_model": "animatic",
        "quote_usd": 0.0,
        "duration_s": 4.0,
        "width": 1280,
        "height": 720,
        "fps": 24.0,
        "audio": True,
        "adaptations": [],
        "params": {},
    },
]
OLD_ROUTE = {
    "candidates": OLD_CANDIDATES,
    "seed": 1234,
    "shot_type": "broll",
    "explanation": {"shot_id": "a", "explanation": {"summary": "runway/gen4-turbo for $0.25"}},
}
OLD_REQUEST = {
    "shot_id": "a",
    "prompt": "a calm sea",
    "duration_s": 5.0,
    "width": 1280,
    "height": 720,
    "fps": 24.0,
    "model": "runway/gen4-turbo",
    "provider_model": "gen4_turbo",
    "audio": False,
    "dialogue": None,
    "seed": 1234,
    "reference_image": None,
    "negative_prompt": None,
    "shot_type": "broll",
    "extra": {"ratio": "1280:720", "idempotency_key": "job-a-1"},
}


def test_an_old_route_round_trips_unchanged():
    route = ShotRoute.from_json(OLD_ROUTE)
    assert route.chain == ["runway/gen4-turbo", "local/animatic"]
    assert route.primary == RouteCandidate.from_json(OLD_CANDIDATES[0])
    assert route.primary is not None
    assert route.primary.adaptations == ("duration 4s -> 5s",)
    assert route.to_json() == OLD_ROUTE


def test_an_old_request_round_trips_unchanged():
    request = StoredRequest.from_json(OLD_REQUEST)
    assert request.extra["idempotency_key"] == "job-a-1"
    assert request.to_json() == OLD_REQUEST
    spoken = OLD_REQUEST | {"speaker": "mara"}
    assert StoredRequest.from_json(spoken).to_json() == spoken


def test_a_missing_route_has_no_candidates():
    assert ShotRoute.from_json(None).primary is None
    assert ShotRoute.from_json({"shot_type": "broll"}).shot_type == "broll"


def test_a_reseeded_route_keeps_its_chain():
    route = ShotRoute.from_json(OLD_ROUTE).with_seed(7)
    assert route.seed == 7
    assert route.to_json() == OLD_ROUTE | {"seed": 7}


def test_a_planned_job_stores_records_that_round_trip():
    ctx = RunContext.create("local", get_settings())
    job_id = create_job(ctx, tiny_board(shot("a"), shot("b")))
    with session_scope(ctx.db_url) as session:
        job = jobs.find_job(session, job_id)
        assert job is not None
        rows = jobs.shots_of(session, job_id)
        assert [row.key for row in rows] == ["a", "b"]
        for row in rows:
            route = ShotRoute.from_json(row.route)
            assert route.primary is not None
            assert route.primary.model_id == row.model_id
            assert route.to_json() == row.route
            spec = requests.shot_spec(job, row.key)
            built = requests.build_request(spec, route.primary, route)
            stored = StoredRequest.from_json(asdict(built))
            expected = asdict(built) | {"reference_image": None}
            assert expected.pop("reference_images") == ()  # resolved when submitting, not stored
            assert expected.pop("extend_video") is None  # likewise: the clip an extension sends
            assert expected.pop("extend_job") is None  # and the generation it extends by id
            if expected["speaker"] is None:  # stored only when the shot names one
                del expected["speaker"]
            assert stored.to_json() == expected
