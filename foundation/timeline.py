"""Frame arithmetic and the rule every join must satisfy, shared by the storyboard's validation
(before any spend) and the stitcher's edit plan (``stitching.plan_edit``), so both refuse the same
transitions for the same reason.
"""

from __future__ import annotations

from fractions import Fraction

_NTSC = (24, 30, 48, 60, 120)
MIN_TRANSITION_FRAMES = 3  # shorter windows fail to assemble (measured: 2 frames at 24 fps)


def exact_rate(fps: float | Fraction | str) -> Fraction:
    """Exact frame rate: ``29.97`` -> ``30000/1001``; ``"24/1"`` and ``Fraction`` pass through."""
    if isinstance(fps, Fraction):
        rate = fps
    elif isinstance(fps, str):
        rate = Fraction(fps)
    else:
        rate = Fraction(fps).limit_denominator(1001)
        for base in _NTSC:
            if abs(float(fps) - base * 1000 / 1001) < 0.005:
                rate = Fraction(base * 1000, 1001)
    if rate <= 0 or rate > 240:
        raise ValueError(f"frame rate {fps} is out of range")
    return rate


def frames_for(seconds: float, rate: Fraction) -> int:
    """Whole frames spanning ``seconds`` at ``rate`` (exact rational, then rounded)."""
    return round(Fraction(seconds).limit_denominator(1_000_000) * rate)


def transition_frames(kind: str, seconds: float, rate: Fraction) -> int:
    """Frames a transition covers: none for a cut, at least one otherwise."""
    return 0 if kind == "cut" else max(1, frames_for(seconds, rate))


def join_problem(
    index: int, transition: str, overlap: int, head: int, previous_frames: int, frames: int
) -> str | None:
    """Why the transition into shot ``index`` cannot be stitched, or ``None``.

    ``overlap``: its frames; ``head``: the frames of the transition into the previous shot (which
    must fit in that shot together with this one); ``frames``: this shot's frames.
    """
    kind = transition.split(":")[0]
    if index == 0 and kind not in ("cut", "fade"):
        return "the first shot can only cut or fade in"
    if kind != "cut" and overlap < MIN_TRANSITION_FRAMES:
        return (
            f"{transition} is {overlap} frames; a transition needs at least {MIN_TRANSITION_FRAMES}"
        )
    if index > 0 and head == 0 and overlap > previous_frames:
        return f"{transition} ({overlap} frames) is longer than the previous shot ({previous_frames} frames)"
    if index > 0 and overlap + head > previous_frames:
        return (
            f"{transition} ({overlap} frames) and the transition into the previous shot "
            f"({head} frames) do not fit in its {previous_frames} frames"
        )
    if overlap >= frames:
        what = "fade-in" if index == 0 else "overlap"
        return (
            f"{transition} {what} ({overlap} frames) is not shorter than the shot ({frames} frames)"
        )
    return None
