"""Issue 18's character sheets, the decision logic: which characters get a sheet, its prompt and
cache key, its routing and refusal at ``characters[i]``, its place as the keyframes' reference,
which shot draws it and which wait, and the reference comparison of the consistency check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from foundation.errors import InvalidInputError
from foundation.settings import Settings, get_settings
from pipeline import keyframes, sheet_stage, sheets
from pipeline.context import RunContext
from pipeline.planning import create_job, route
from pipeline.policy import MAX_SAME_MODEL
from quality.consistency import ColourProfile, Look, check_references, still_palette
from store.db import session_scope
from store.models import Attempt, Job, Shot
from tests.pipeline.conftest import shot, stage_to_end, tiny_board

MARA = {"id": "mara", "description": "woman, red raincoat"}
JOE = {"id": "joe", "description": "man, green coat", "reference_images": ["joe.png"]}


def two_shots(**top: object):
    """Mara (no references) in shots a and b, Joe (given a reference) in c, nobody in d."""
    top.setdefault("characters", [MARA, JOE])
    return tiny_board(
        shot("a", characters=["mara"]),
        shot("b", characters=["mara"]),
        shot("c", characters=["joe"]),
        shot("d"),
        **top,
    )


def test_a_sheet_is_planned_for_a_character_without_references_in_a_keyframed_shot():
    (sheet,) = sheets.sheets_of(two_shots(style="neon noir"))
    assert (sheet.character, sheet.path, sheet.side) == ("mara", "characters[0]", 90)
    assert "woman, red raincoat" in sheet.prompt
    assert "Style: neon noir." in sheet.prompt
    assert "Full figure" in sheet.prompt
    unframed = tiny_board(shot("a", characters=["mara"], keyframe="none"), characters=[MARA])
    assert sheets.sheets_of(unframed) == []  # no keyframe features her: no sheet


def test_the_cache_key_follows_description_style_model_and_size_only():
    (sheet,) = sheets.sheets_of(two_shots(style="noir"))
    key = sheets.cache_key(sheet, "fal/flux-schnell", "90x90")
    edited = two_shots(style="noir").model_dump(mode="json")
    edited["scenes"][0]["shots"][0]["prompt"] = "another shot prompt"
    (same,) = sheets.sheets_of(tiny_board(*edited["scenes"][0]["shots"], **_top(edited)))
    assert sheets.cache_key(same, "fal/flux-schnell", "90x90") == key
    (described,) = sheets.sheets_of(
        two_shots(style="noir", characters=[MARA | {"description": "x"}, JOE])
    )
    (styled,) = sheets.sheets_of(two_shots(style="pastel"))
    others = {
        sheets.cache_key(described, "fal/flux-schnell", "90x90"),
        sheets.cache_key(styled, "fal/flux-schnell", "90x90"),
        sheets.cache_key(sheet, "gemini/gemini-2.5-flash-image", "90x90"),
        sheets.cache_key(sheet, "fal/flux-schnell", "1:1"),
    }
    assert key not in others
    assert len(others) == 4


def _top(data: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in data.items() if k in ("characters", "style")}


def test_keyframes_count_the_sheet_at_planning_and_read_it_once_drawn():
    board = two_shots()
    planned = {kf.shot_id: kf.references for kf in keyframes.keyframes_of(board)}
    assert planned == {"a": ("sheet:mara",), "b": ("sheet:mara",), "c": ("joe.png",)}
    drawn = {kf.shot_id: kf.references for kf in keyframes.keyframes_of(board, {"mara": "m.png"})}
    assert drawn == {"a": ("m.png",), "b": ("m.png",), "c": ("joe.png",)}


def test_the_sheet_is_routed_among_image_models_and_refused_at_its_character(joe_png):
    ctx = RunContext.create("emulated", get_settings())
    (decision,) = sheets.plan_sheets(ctx, two_shots(), two_shots().mode).values()
    assert decision.chain[0].model_id == "fal/flux-schnell"  # takes no reference: it needs none
    assert all(ctx.registry.get(c.model_id).kind == "image" for c in decision.chain)
    local = sheets.plan_sheets(RunContext.create("local", get_settings()), two_shots(), "final")
    assert [c.model_id for c in local["mara"].chain] == ["local/keyframe"]
    with pytest.raises(InvalidInputError) as caught:
        route(RunContext.create("live", get_settings()), two_shots(), two_shots().mode)
    assert [p.path for p in caught.value.problems] == ["characters[0]"]
    assert "reference sheet" in caught.value.problems[0].message


@pytest.fixture
def joe_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    monkeypatch.chdir(tmp_path)
    cv2.imwrite("joe.png", np.full((64, 64, 3), (40, 160, 40), np.uint8))


def _status(ctx: RunContext, job_id: str, key: str) -> str | None:
    with session_scope(ctx.db_url) as session:
        row = session.scalars(select(Shot).where(Shot.job_id == job_id, Shot.key == key)).one()
        board = session.get_one(Job, job_id).storyboard
        return sheet_stage.status(session, row, board)


def test_the_first_shot_draws_the_sheet_the_others_wait_and_unrelated_shots_do_not(
    tmp_path, joe_png
):
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    job_id = create_job(ctx, two_shots(), output=tmp_path / "out.mp4")
    assert [_status(ctx, job_id, k) for k in "abcd"] == ["sheet", "wait", None, None]
    with session_scope(ctx.db_url) as session:
        pks = dict(session.execute(select(Shot.key, Shot.id).where(Shot.job_id == job_id)).all())
    assert sheet_stage.draw(ctx, pks["b"]) == 0.0  # b owns nothing: draws nothing
    assert sheet_stage.draw(ctx, pks["a"]) == 0.0
    assert [_status(ctx, job_id, k) for k in "abcd"] == [None, None, None, None]
    with session_scope(ctx.db_url) as session:
        tries = session.execute(
            select(Attempt.shot_id, Attempt.status, Attempt.asset_path).where(
                Attempt.stage == "sheet"
            )
        ).all()
    ((owner, status, asset),) = tries
    assert (owner, status) == (pks["a"], "accepted")
    assert Path(asset or "").is_file()


def test_when_the_owner_fails_the_next_shot_owns_the_sheet_and_fails_with_its_reason(
    tmp_path, joe_png, monkeypatch
):
    from adapters._images_local import LocalImageClient
    from adapters.errors import ProviderFailureError

    def fail(self, request):
        raise ProviderFailureError("the drawing failed", "local")

    monkeypatch.setattr(LocalImageClient, "generate", fail)
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    job_id = create_job(ctx, two_shots(), output=tmp_path / "out.mp4")
    with session_scope(ctx.db_url) as session:
        pks = dict(session.execute(select(Shot.key, Shot.id).where(Shot.job_id == job_id)).all())
    assert stage_to_end(sheet_stage.draw, ctx, pks["a"]) == MAX_SAME_MODEL  # 2 waits, then over
    assert _status(ctx, job_id, "b") == "sheet"  # a has failed: b owns the sheet now
    sheet_stage.draw(ctx, pks["b"])  # every model was tried on this prompt: no further call
    with session_scope(ctx.db_url) as session:
        rows = session.execute(
            select(Shot.key, Shot.status, Shot.error).where(Shot.job_id == job_id)
        ).all()
        tries = session.scalars(select(Attempt.id).where(Attempt.stage == "sheet")).all()
    ended = {key: (status, error) for key, status, error in rows}
    assert len(tries) == MAX_SAME_MODEL
    for key in "ab":
        assert ended[key][0] == "failed"
        assert (ended[key][1] or "").startswith("sheet: local/keyframe: local: the drawing failed")
    assert ended["c"][0] == ended["d"][0] == "planned"


def _look(u: int, v: int) -> Look:
    """A shot's look: grey mostly, 10% of its pixels at (u, v)."""
    hist = np.zeros((3, 16), np.float32)
    hist[:, 8] = 1.0
    hist[1, 8], hist[1, u >> 4] = 0.9, 0.1
    hist[2, 8], hist[2, v >> 4] = 0.9, 0.1
    return Look(120.0, 30.0, (u, v), hist)


def test_a_shot_is_compared_with_its_characters_references_on_their_colours(tmp_path):
    import cv2

    red = tmp_path / "red.png"  # a red figure on a white sheet
    sheet = np.full((64, 64, 3), 255, np.uint8)
    sheet[16:48, 24:40] = (30, 30, 200)
    cv2.imwrite(str(red), sheet)
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((64, 64, 3), 128, np.uint8))
    palette = still_palette(red)
    assert 0.1 < palette.share < 0.2
    (u,) = np.flatnonzero(palette.hist[0])
    (v,) = np.flatnonzero(palette.hist[1])
    with_red, without = _look(int(u) << 4, int(v) << 4), _look(128 + 48, 128 - 48)
    profiles = [
        ColourProfile(Path(n), look, look, look) for n, look in (("a", with_red), ("b", without))
    ]
    refs = {0: [("mara", palette)], 1: [("mara", palette), ("joe", still_palette(grey))]}
    reports = check_references(profiles, refs)
    seen = [(r.shot, r.character, r.flagged, round(r.present, 2)) for r in reports]
    assert seen == [(0, "mara", False, 1.0), (1, "mara", True, 0.0), (1, "joe", False, 1.0)]
    assert "no saturated colours" in reports[2].message


def test_plan_shows_the_sheet_stage_with_its_model_quote_and_fallbacks(tmp_path, joe_png):
    import json

    import yaml

    from tests.router.test_cli_plan import run

    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(two_shots().model_dump(mode="json", exclude_none=True)))
    sheet = json.loads(run("plan", str(path), "--providers", "emulated", "--json").output)
    (mara,) = sheet["sheets"].values()
    assert (mara["stage"], mara["model"]) == ("sheet", "fal/flux-schnell")
    assert mara["quote_usd"] > 0
    assert mara["fallbacks"]
    text = run("plan", str(path), "--providers", "emulated").output
    assert "sheet stages (1 character)" in text
    assert "quoted for 1 character sheet," in text


def test_the_closing_caption_names_what_was_reused_and_the_money_saved():
    from shotline.console import reused_note

    reused = {"sheets": ["joe"], "keyframes": ["c"], "tts": [], "videos": ["c"], "saved_usd": 0.2}
    note = reused_note({"reused": reused})
    assert note == "  (1 shots, 1 sheets, 1 keyframes reused from the cache, $0.20 saved)"
    assert reused_note({"reused": reused | {"sheets": [], "keyframes": [], "videos": []}}) == ""
