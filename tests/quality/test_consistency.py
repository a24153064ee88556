"""Cross-shot colour/exposure continuity at joins and within scenes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from media.ffmpeg import has_filter
from media.runner import run_ffmpeg
from quality.consistency import (
    ColourProfile,
    JoinThresholds,
    check_joins,
    check_references,
    profile,
    still_palette,
)
from quality.errors import QualityError
from quality.expectation import ClipExpectation
from quality.gate import evaluate
from tests.media.flat import flat_clip

SRC = "testsrc2=s=320x180:r=24:d=1"


@pytest.fixture(scope="module")
def shots(make_clip: Callable[..., Path]) -> dict[str, Path]:
    return {
        "a": make_clip("shot_a", "-f", "lavfi", "-i", SRC),
        "b": make_clip("shot_b", "-f", "lavfi", "-i", f"{SRC},hflip"),
        "dark": make_clip("shot_dark", "-f", "lavfi", "-i", f"{SRC},eq=brightness=-0.35"),
        "tinted": make_clip(
            "shot_tint", "-f", "lavfi", "-i", f"{SRC},colorchannelmixer=rr=1:gg=0.7:bb=0.4"
        ),
    }


def test_matching_shots_score_high(shots: dict[str, Path]) -> None:
    reports = check_joins([shots["a"], shots["b"]], ["s1", "s1"])
    join = next(r for r in reports if r.kind == "join")
    assert not join.flagged
    assert join.score > 0.8


def test_exposure_jump_inside_a_scene_is_flagged_with_the_offender(shots: dict[str, Path]) -> None:
    reports = check_joins([shots["a"], shots["b"], shots["dark"]], ["s1", "s1", "s1"])
    joins = [r for r in reports if r.kind == "join"]
    assert [r.flagged for r in joins] == [False, True]
    assert joins[1].offending == 2
    assert joins[1].luma_delta > 20
    scene = [r for r in reports if r.kind == "scene" and r.flagged]
    assert {(r.a, r.b) for r in scene} == {(0, 2), (1, 2)}


def test_colour_cast_is_flagged(shots: dict[str, Path]) -> None:
    reports = check_joins([shots["a"], shots["tinted"]], ["s1", "s1"])
    assert reports[0].flagged
    assert reports[0].chroma_delta > 8


def test_scene_change_is_reported_but_not_flagged(shots: dict[str, Path]) -> None:
    reports = check_joins([shots["a"], shots["dark"]], ["s1", "s2"])
    assert len(reports) == 1
    assert not reports[0].same_scene
    assert not reports[0].flagged
    assert reports[0].score < 0.5


def test_argument_mismatch(shots: dict[str, Path]) -> None:
    with pytest.raises(QualityError):
        check_joins([shots["a"]], ["s1", "s2"])


def test_the_gates_decode_gives_the_profile_a_separate_decode_gives(
    shots: dict[str, Path],
) -> None:
    """The consistency check compares the profiles the gate measured, so they must describe the
    clip as ``profile`` (its own decode) does, and survive the verdict's JSON."""
    from quality.consistency import ColourProfile, compare, profile
    from quality.expectation import ClipExpectation
    from quality.gate import evaluate

    expect = ClipExpectation(1.0, 320, 180, 24.0, "any", tier="draft", prompt="a test card")
    for name in ("a", "dark", "tinted"):
        verdict = evaluate(shots[name], expect)
        assert verdict.colour is not None
        stored = ColourProfile.from_json(
            shots[name], json.loads(json.dumps(verdict.to_dict()))["colour"]
        )
        decoded = profile(shots[name])
        for part in ("head", "tail", "whole"):
            a, b = getattr(stored, part), getattr(decoded, part)
            values, score = compare(a, b, JoinThresholds())
            assert values["luma"] < 2.0, (name, part, values)
            assert values["chroma"] < 1.0, (name, part, values)
            assert values["hist"] < 0.05, (name, part, values)
            assert score > 0.9, (name, part, values)
        if name == "dark":
            assert stored.whole.luma_mean < profile(shots["a"]).whole.luma_mean - 20


def test_a_stored_profile_that_is_not_one_is_refused() -> None:
    from quality.consistency import ColourProfile

    look = {"luma_mean": 1, "luma_std": 1, "chroma": [0, 0], "hist": [[1.0]]}
    with pytest.raises(ValueError, match="histogram has shape"):
        ColourProfile.from_json(Path("x"), dict.fromkeys(("head", "tail", "whole"), look))
    with pytest.raises(KeyError):
        ColourProfile.from_json(Path("x"), {"head": {}})


@pytest.mark.parametrize(
    "encode",
    [("libx264", "yuvj420p"), ("libx264", "yuv420p10le"), ("prores_ks", "yuv422p10le")],
)
def test_the_same_picture_in_another_range_or_depth_matches(
    shots: dict[str, Path], tmp_path: Path, encode: tuple[str, str]
) -> None:
    """One provider's 8-bit limited-range clip and another's full-range, 10-bit or ProRes copy
    of the same picture are one look, not a colour jump to re-render."""
    codec, pix_fmt = encode
    other = tmp_path / f"same_{pix_fmt}.mov"
    run_ffmpeg(["-f", "lavfi", "-i", SRC, "-c:v", codec, "-pix_fmt", pix_fmt, str(other)])
    join = check_joins([shots["a"], other], ["s1", "s1"])[0]
    assert not join.flagged
    assert join.score > 0.8, join.message


HLG = (
    "format=gbrpf32le,zscale=tin=bt709:t=linear:npl=100:pin=bt709:p=bt709,"
    "zscale=tin=linear:pin=bt709:p=bt2020:t=arib-std-b67:m=bt2020nc:r=tv,format=yuv420p10le"
)
BARS = "smptebars=s=320x180:r=24:d=1"


@pytest.fixture(scope="module")
def bars(make_clip: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The same colour bars as an SDR clip and as a phone's HLG one (BT.2020, 10 bit)."""
    if not has_filter("zscale"):
        pytest.skip("the configured FFmpeg lacks zscale (libzimg)")
    hlg = tmp_path_factory.mktemp("hdr") / "bars_hlg.mp4"
    tags = ["-color_trc", "arib-std-b67", "-color_primaries", "bt2020", "-colorspace", "bt2020nc"]
    run_ffmpeg(["-f", "lavfi", "-i", BARS, "-vf", HLG, "-c:v", "libx265", "-x265-params",
                "log-level=error", "-pix_fmt", "yuv420p10le", *tags, str(hlg)])  # fmt: skip
    return [make_clip("bars_sdr", "-f", "lavfi", "-i", BARS), hlg]


def test_an_hlg_shot_beside_an_sdr_one_is_not_a_colour_jump(bars: list[Path]) -> None:
    """Read as SDR, the HLG bars differed from the SDR ones by luma 17.8, histogram 0.54 and
    contrast x1.56 (score 0, flagged): a jump the stitched programme, which tone-maps HLG to SDR,
    does not have. The pair is reported as not compared, with the reason."""
    for report in check_joins(bars, ["s1", "s1"]):
        assert not report.flagged
        assert report.message.startswith("not compared: shot 1 is SDR, shot 2 is HLG")


def test_the_gate_records_the_hdr_transfer_with_the_profile(bars: list[Path]) -> None:
    expect = ClipExpectation(duration_s=1.0, width=320, height=180, fps=24.0, audio="any")
    sdr, hlg = (evaluate(path, expect).colour for path in bars)
    assert sdr is not None
    assert "hdr" not in sdr
    assert hlg is not None
    assert hlg["hdr"] == "hlg"
    profiles = [ColourProfile.from_json(p, s) for p, s in zip(bars, (sdr, hlg), strict=True)]
    assert profiles[1].hdr == "hlg"
    assert not check_joins(bars, ["s1", "s1"], profiles=profiles)[0].flagged


@pytest.mark.parametrize(
    ("rgb", "matrix", "size"),
    [
        ((200, 30, 40), "bt709", (1280, 720)),
        ((200, 30, 40), "bt601", (640, 360)),
        ((40, 160, 60), "bt601", (640, 360)),
        ((230, 180, 40), "bt709", (1280, 720)),
        ((40, 60, 200), "bt709", (1280, 720)),
    ],
)
def test_a_references_colour_is_found_in_a_shot_of_that_colour(
    rgb: tuple[int, int, int], matrix: str, size: tuple[int, int], tmp_path: Path
) -> None:
    """A character sheet (half the colour, half grey) against an untagged shot of the colour, HD
    (read as BT.709) or SD (BT.601). The reference used to be read as full-range BT.601 whatever
    the shot: each of these was flagged as missing the character's colours (present 0)."""
    sheet = np.full((180, 320, 3), 128, np.uint8)
    sheet[:, :160] = rgb[::-1]
    reference = tmp_path / "sheet.png"
    cv2.imwrite(str(reference), sheet)
    shot = profile(flat_clip(tmp_path / "shot.mp4", size, rgb, matrix, tag=False))
    assert shot.matrix == matrix
    (report,) = check_references([shot], {0: [("hero", still_palette(reference))]})
    assert not report.flagged
    assert report.present == 1.0, report.message
