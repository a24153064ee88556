"""Hypothesis strategies for ``explore_boards.py``: storyboards across the schema's space (counts,
durations tiny to over the limits, transitions as long as their shots, odd sizes and rates,
variants, characters, voices, lines, keyframes, music, previews, budgets, unicode and long text).
Most boards draw valid values; a ``wild`` one (one in five) also draws values validation must
refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st

MUSIC = Path(__file__).resolve().parents[1] / "examples" / "media" / "slow-synth-pulse.m4a"

SIZES = ["160x90", "90x160", "96x96", "32x32", "34x32", "64x36", "256x32", "32x256", "162x90",
         "158x88", "100x60", "48x270", "120x34", " 160X90 ", "320x180", "640x360", "34x34"]  # fmt: skip
BAD_SIZES = ["33x33", "31x32", "30x30", "8x8", "160x90x2"]
FPS = [10, 10.5, 12, 12.5, 15, 23.976, 24, 25, 29.97, 30, 47.952, 48, 50, 59.94, 60, 72, 90,
       100, 119.88, 120, 13.37]  # fmt: skip
BAD_FPS = [9.99, 120.01, 0, 1000]
SHORT = [0.25, 0.26, 0.3, 1 / 3, 0.4, 0.5, 0.51, 0.75, 1, 1.25, 1.5, 2, 2.5, 3]
LONG = [3.999, 4, 5, 6, 8, 9, 10, 10.5, 11, 12, 15, 16]
BAD_DURATIONS = [0, -1, 0.2, 0.24, 120.5, 1e-9]
ASPECTS = ["9:16", "1:1", "4:3", "16:9", "21:9", "1:8", "8:1", "1:9", "90x160", "32x32",
           "64x64", "1:2", "3:1", "160x90", "2:1", "34x60", "1:7", "7:1", "100:99"]  # fmt: skip
BAD_ASPECTS = ["0:1", "9:16:1", "wide"]
PROMPTS = [
    "a calm forest at dawn",
    "Wide aerial of a neon harbour city at night, rain on the water",
    "  padded prompt with spaces  ",
    "ünïcödé prompt: café, naïve, Ελληνικά, русский, 日本語のプロンプト",
    "emoji 🎬🌊🔥 and ZWJ 👩‍👩‍👧 sequences",
    "right-to-left: שלום עולם مرحبا",
    "quotes \" ' ` and backslashes \\ and braces {x} <y> --> z",
    "line one\nline two\ttabbed",
    "combining a\u0301\u0302\u0303 and zero width\u200b\u200d",
    "control \x07 bell and \x1b escape",
    "separator\u2028line\u2029para",
]
BAD_PROMPTS = ["", "   ", "nul \x00 inside"]
LINES = [
    "Hello.",
    "We leave at dawn.",
    "Ça va? 你好，世界。",
    "🎬 action!",
    "two\nlines of dialogue",
    "x" * 300,
    "We leave at dawn and we do not come back to this harbour again, not ever, never.",
    "مرحبا بالعالم",
    "100% {0 %s",
    "a -> b <3 & c",
    "'quoted' \"twice\"",
    "tab\there",
]
BAD_LINES = ["{b}styled{/b}", "<i>italic</i>", "a --> b", "back\\Nslash", "   "]
TITLES = ["t", "A title", "ünïcödé 标题 🎬", "a/b\\c:d*e?f", "x" * 300, "line\nbreak", "  t  "]
BAD_TITLES = ["", " "]
SCENE_IDS = ["s", "scene-1", "a/b", "..", "名前", "x" * 64, " ", "s.1", "S", "s"]
SHOT_IDS = ["a.b", "A_1", "a..", "a-"]
BAD_SHOT_IDS = ["-x", "a b", "", "x" * 65]
VOICES = [None, "calm, low", "openai:onyx", "elevenlabs:abc123", "local:x", "  soft  spoken "]
BAD_VOICES = ["openai:bad voice", "  "]
CAST_IDS = ["mara", "jon", "a.b", "c9"]
BAD_CAST_IDS = ["Öz", ""]
DESCRIPTIONS = ["a woman in a coat", "a tall man", "ß" * 900, "Мара 🎭"]
BAD_DESCRIPTIONS = ["  ", "x" * 1001]
TYPES = ["establishing", "dialogue", "action", "product", "broll"]
PREVIEWS = [{"kind": "video"}, {"kind": "keyframes"}, {"kind": "free"}, {"free": True}, {}]
BAD_PREVIEWS = [{"free": True, "kind": "keyframes"}, {"kind": "free", "free": False}]


def make_assets(where: Path) -> dict[str, str]:
    """Small files the boards name: images of several shapes, a non-image, audio beds."""
    from PIL import Image

    from media.runner import run_ffmpeg

    where.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, size in (
        ("img", (64, 64)),
        ("tiny", (8, 8)),
        ("wide", (400, 20)),
        ("tall", (20, 400)),
    ):
        path = where / f"{name}.png"
        Image.new("RGB", size, (200, 100, 50)).save(path)
        files[name] = str(path)
    (where / "notimage.png").write_text("not an image")
    files["notimage"] = str(where / "notimage.png")
    files["missing"] = str(where / "missing.png")
    blip = where / "blip.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=0.05", str(blip)])
    files["blip"] = str(blip)
    silent = where / "silent.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=32x32:d=1", "-pix_fmt", "yuv420p", str(silent)])
    files["silentvideo"] = str(silent)
    files["music"] = str(MUSIC)
    return files


def _pick(draw: Any, weighted: list[tuple[int, Any]]) -> Any:
    """One of ``weighted`` (weight, strategy-or-value), by weight (weight 0: never)."""
    weighted = [(w, v) for w, v in weighted if w > 0]
    total = sum(w for w, _ in weighted)
    roll = draw(st.integers(0, total - 1))
    for weight, value in weighted:
        if roll < weight:
            return draw(value) if isinstance(value, st.SearchStrategy) else value
        roll -= weight
    raise AssertionError


class Gen:
    """Draws for one board; ``wild`` boards also draw values validation must refuse."""

    def __init__(self, draw: Any, wild: bool, assets: dict[str, str], models: list[str]) -> None:
        self.draw, self.wild, self.assets, self.models = draw, wild, assets, models

    def one(self, good: list[Any], bad: list[Any] = (), rare: int = 8) -> Any:  # type: ignore[assignment]
        """From ``good``, or (wild boards only, 1 in ``rare``) from ``bad``."""
        if self.wild and bad and self.draw(st.integers(0, rare - 1)) == 0:
            return self.draw(st.sampled_from(list(bad)))
        return self.draw(st.sampled_from(good))

    def chance(self, one_in: int) -> bool:
        return bool(self.draw(st.integers(0, one_in - 1)) == 0)

    def duration(self) -> float:
        return float(
            _pick(
                self.draw,
                [
                    (60, st.sampled_from(SHORT)),
                    (20, st.floats(0.25, 3.0, allow_nan=False).map(lambda v: round(v, 3))),
                    (10, st.sampled_from(LONG)),
                    (5 if self.wild else 0, st.sampled_from(BAD_DURATIONS)),
                ],
            )
        )

    def transition(self, seconds: float, previous: float | None) -> str:
        kind = _pick(self.draw, [(40, "cut"), (25, "crossfade"), (20, "fade"), (15, "wipe")])
        if kind == "cut":
            return str(self.one(["cut", "CUT", " cut "], ["cut:0.5"]))
        options = [0.01, 0.04, 0.05, 0.1, 0.125, 0.2, 0.25, 0.5, 1.0, seconds, seconds / 2]
        if previous is not None:
            options += [previous, previous / 2, previous - 0.01]
        length = _pick(
            self.draw,
            [
                (85, st.sampled_from(options)),
                (10, st.floats(0.01, 2.0).map(lambda v: round(v, 4))),
                (5 if self.wild else 0, st.sampled_from([0, 0.0000001, 0.1234567, 200])),
            ],
        )
        text = (
            f"{kind}:{length:.6f}".rstrip("0").rstrip(".")
            if length >= 1e-6
            else f"{kind}:{length:.7f}"
        )
        if text.endswith(":0") and not self.wild:
            text = f"{kind}:0.5"
        return str(_pick(self.draw, [(90, text), (5, f" {text.upper()} "), (5, f"{kind}:.5")]))

    def prompt(self) -> str:
        if self.wild and self.chance(10):
            return str(self.draw(st.sampled_from(BAD_PROMPTS)))
        return str(
            _pick(
                self.draw,
                [
                    (75, st.sampled_from(PROMPTS)),
                    (
                        10,
                        st.text(min_size=1, max_size=60).filter(
                            lambda t: t.strip() and "\x00" not in t
                        ),
                    ),
                    (6, st.integers(500, 20000).map(lambda n: ("long prompt " * n)[:n])),
                ],
            )
        )

    def characters(self) -> list[dict[str, Any]]:
        out = []
        for _ in range(self.draw(st.integers(0, 3))):
            who: dict[str, Any] = {
                "id": self.one(CAST_IDS, BAD_CAST_IDS),
                "description": self.one(DESCRIPTIONS, BAD_DESCRIPTIONS),
            }
            voice = self.one(VOICES, BAD_VOICES)
            if voice is not None:
                who["voice"] = voice
            names = ["img", "tiny", "wide", "tall"] + (["missing", "notimage"] if self.wild else [])
            refs = self.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
            if refs:
                who["reference_images"] = [self.assets[r] for r in refs]
            out.append(who)
        if not self.wild:  # one of each id
            out = list({c["id"]: c for c in out}.values())
        return out

    def shot(self, key: str, index: int, previous: float | None, cast: list[str]) -> dict[str, Any]:
        seconds = self.duration()
        spec: dict[str, Any] = {"id": key, "prompt": self.prompt(), "duration": seconds}
        if self.draw(st.integers(0, 9)) < 6:
            spec["transition"] = self.transition(seconds, previous)
        if self.draw(st.booleans()):
            spec["type"] = self.one(TYPES, ["closeup"])
        audio = self.draw(st.sampled_from(["none", "ambient", "dialogue", None]))
        if audio:
            spec["audio"] = audio
        featured = (
            self.draw(st.lists(st.sampled_from(cast), max_size=3, unique=not self.wild))
            if cast
            else []
        )
        if featured:
            spec["characters"] = featured
        if audio == "dialogue" or self.chance(10):
            spec["dialogue"] = self.one(LINES, BAD_LINES)
            if featured and self.draw(st.booleans()):
                spec["speaker"] = self.draw(st.sampled_from(featured))
        if self.chance(10):
            spec["model"] = self.draw(st.sampled_from(self.models))
        if self.chance(15):
            names = ["img", "tiny", "wide", "tall"] + (["missing", "notimage"] if self.wild else [])
            spec["reference_image"] = self.assets[self.draw(st.sampled_from(names))]
        if self.chance(12):
            spec["keyframe"] = self.one(
                ["generate", "none", self.assets["img"]], [self.assets["missing"]]
            )
        if (self.wild or index > 0) and self.chance(10):
            spec["continues"] = True
            if self.wild and self.chance(4):
                spec["extends"] = True
        if self.chance(10):
            spec["seed"] = self.draw(st.sampled_from([0, 1, 2**32 - 1, 12345]))
        if self.chance(15):
            spec["negative_prompt"] = self.draw(st.sampled_from(["blurry", "", "ü" * 3000]))
        return spec

    def variant(self) -> Any:
        aspect = self.one(ASPECTS, BAD_ASPECTS)
        if self.draw(st.integers(0, 2)):
            return aspect
        spec: dict[str, Any] = {
            "aspect": aspect,
            "render": self.draw(st.sampled_from(["reframe", "native", "auto"])),
        }
        if self.draw(st.booleans()):
            spec["shots"] = self.draw(
                st.lists(st.sampled_from(["k0", "k1"] + (["k9"] if self.wild else [])), max_size=2)
            )
        return spec

    def music(self) -> dict[str, Any]:
        if self.draw(st.booleans()):
            name = self.one(["music", "music", "blip"], ["silentvideo", "missing", "img"], rare=2)
            spec: dict[str, Any] = {"file": self.assets[name]}
        else:
            spec = {"prompt": self.one(["slow synth pulse", "ß" * 1999, "ünï 🎵"], ["  "])}
        if self.draw(st.booleans()):
            spec["gain_db"] = self.one([-40, -18, 0], [1])
        if self.draw(st.booleans()):
            spec["duck_under_dialogue"] = self.draw(st.booleans())
        return spec

    def output(self) -> dict[str, Any]:
        size = _pick(self.draw, [(70, "160x90"), (30, st.just(None))]) or self.one(SIZES, BAD_SIZES)
        out: dict[str, Any] = {"size": size}
        out["fps"] = _pick(
            self.draw,
            [(40, 24), (50, st.just(None)), (10, st.floats(10, 120).map(lambda v: round(v, 3)))],
        ) or self.one(FPS, BAD_FPS)
        if self.chance(5):
            out["loudness_lufs"] = self.one([-40, -23, -16, -10, -12.5], [-41, -9, -5])
        if self.chance(4):
            out["variants"] = [self.variant() for _ in range(self.draw(st.integers(0, 4)))]
        return out


@st.composite
def boards(draw: Any, assets: dict[str, str], models: list[str]) -> dict[str, Any]:
    g = Gen(draw, draw(st.integers(0, 4)) == 0, assets, models)
    cast_specs = g.characters()
    cast = [c["id"] for c in cast_specs]
    board: dict[str, Any] = {
        "title": "fuzz" if g.draw(st.integers(0, 6)) else g.one(TITLES, BAD_TITLES)
    }
    board["output"] = g.output()
    if g.chance(10):
        board["mode"] = "final"
    if g.chance(5):
        board["preview"] = g.one(PREVIEWS, BAD_PREVIEWS)
    if g.chance(4):
        board["budget_usd"] = g.draw(st.sampled_from([0, 0.01, 0.05, 0.25, 0.5, 1, 2, 5, 100]))
    if g.chance(10):
        board["consistency"] = "rerender"
    if g.chance(6):
        board["captions"] = {"burn_in": True}
    if g.chance(8):
        board["music"] = g.music()
    if g.chance(8):
        board["style"] = g.draw(st.sampled_from(["film noir", "日本画", "x" * 500]))
    if cast_specs:
        board["characters"] = cast_specs
    scenes = []
    previous: float | None = None
    count = 0
    for s_index in range(g.draw(st.integers(1, 3))):
        shots = []
        for _ in range(g.draw(st.integers(1, 3))):
            key = (
                f"k{count}"
                if g.draw(st.integers(0, 9))
                else g.one(SHOT_IDS, [*BAD_SHOT_IDS, "k0"], rare=2)
            )
            spec = g.shot(key, count, previous, cast)
            previous = spec["duration"]
            shots.append(spec)
            count += 1
        scene_id = f"s{s_index}" if g.draw(st.integers(0, 9)) else g.one(SCENE_IDS)
        scenes.append({"id": scene_id, "shots": shots})
    board["scenes"] = scenes
    return board
