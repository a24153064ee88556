"""Programme audio: the segments' final PCM mixed sample-exactly, encoded to AAC once.

Fast path: every segment's audio was made final on arrival and encoded on the programme's AAC grid
(``shotaudio``), so the packets inside each segment are copied and only the stretches around the
joins are encoded, from the lossless PCM sidecars. Slow path (a music bed, a segment not on the grid
for this plan, or a programme the per-shot gains left off target): the whole mix is brought to the
target loudness and encoded, in parallel chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from media.files import not_a_file
from media.probe import probe
from media.runner import run_ffmpeg_stdout
from stitching import aac, meter
from stitching.aac import FRAME, Stretch
from stitching.errors import StitchError
from stitching.limited_gain import limited_to_target
from stitching.loudness import (
    PEAK_HEADROOM_DB,
    Pcm,
    gain_for,
    limit,
    measure_pcm,
    peak_bound,
    true_peaks,
)
from stitching.plan import EditPlan, MusicBed, ShotPlan
from stitching.profile import OutputProfile

if TYPE_CHECKING:
    from stitching.aac import Packet

ON_TARGET_LU = 0.5
PEAK_BOUND = peak_bound()


@dataclass(frozen=True)
class Interior:
    """Programme samples of shot ``shot`` whose AAC packets are copied from its segment."""

    shot: int
    keep: Stretch


def _ramp(n: int, rising: bool) -> Pcm:
    ramp = ((np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)).astype(np.float32)
    return ramp if rising else ramp[::-1].copy()


def _edge(n: int, kind: str, rising: bool) -> Pcm:
    """Gain over an overlap: linear crossfade, or (fade through black) silence at the middle."""
    if kind != "fade":
        return _ramp(n, rising)
    half = n // 2
    zeros = np.zeros(half if rising else n - half, dtype=np.float32)
    ramp = _ramp(n - half if rising else half, rising)
    return np.concatenate([zeros, ramp] if rising else [ramp, zeros])


def _envelope(plan: EditPlan, index: int, lo: int, hi: int) -> Pcm:
    """Samples ``[lo, hi)`` of shot ``index``'s gain: its transitions' edges, else 1."""
    shot = plan.shots[index]
    env = np.ones(hi - lo, dtype=np.float32)
    if shot.transition.kind != "cut":
        n = plan.profile.samples_for(shot.transition_frames)
        kind = "crossfade" if index == 0 else shot.transition.kind
        _apply(env, lo, _edge(n, kind, rising=True), 0)
    if index + 1 < len(plan.shots) and plan.shots[index + 1].transition.kind != "cut":
        following = plan.shots[index + 1]
        n = plan.profile.samples_for(following.transition_frames)
        _apply(env, lo, _edge(n, following.transition.kind, rising=False), shot.segment.samples - n)
    return env


def _apply(env: Pcm, lo: int, edge: Pcm, at: int) -> None:
    """Multiply ``env`` (samples from ``lo``) by ``edge`` where it lies (from sample ``at``)."""
    start, end = max(lo, at), min(lo + len(env), at + len(edge))
    if start < end:
        env[start - lo : end - lo] *= edge[start - at : end - at]


def _pcm(shot: ShotPlan, lo: int, hi: int) -> Pcm:
    """Samples ``[lo, hi)`` of the shot's final PCM (read from its sidecar)."""
    path, samples = shot.segment.audio_path, shot.segment.samples
    if path.stat().st_size != samples * 8:
        raise StitchError(
            f"shot {shot.shot_id}: {path} has {path.stat().st_size // 8} samples, "
            f"segment says {samples}"
        )
    pcm = np.fromfile(path, dtype=np.float32, count=(hi - lo) * 2, offset=lo * 8)
    return pcm.reshape(-1, 2)


def mix_range(plan: EditPlan, lo: int, hi: int) -> Pcm:
    """Programme samples ``[lo, hi)`` (no music): every shot's PCM at its offset, enveloped."""
    buffer = np.zeros((hi - lo, 2), dtype=np.float32)
    for index, shot in enumerate(plan.shots):
        start, end = max(lo, shot.sample_in), min(hi, shot.sample_out)
        if start >= end:
            continue
        a, b = start - shot.sample_in, end - shot.sample_in
        buffer[start - lo : end - lo] += _pcm(shot, a, b) * _envelope(plan, index, a, b)[:, None]
    return buffer


def mix(plan: EditPlan) -> Pcm:
    """The whole programme: shots overlap-added with their transition envelopes, music under."""
    buffer = mix_range(plan, 0, plan.total_samples)
    if plan.music is not None:
        buffer += music_bed(plan.music, buffer, plan.profile.sample_rate)
    return buffer


def _smooth(values: Pcm, width: int) -> Pcm:
    kernel = np.ones(width, dtype=np.float32) / width
    return np.convolve(values, kernel, mode="same").astype(np.float32)


MIN_MUSIC_S = 0.1
SILENT_RMS = 10 ** (-60 / 20)  # a bed quieter than -60 dBFS throughout is silence
SILENCE_RATE = 8_000  # enough to hear a bed's level, at a sixth of the programme rate's cost


def music_problem(path: Path, heard_s: float | None = None) -> str | None:
    """Why the stitcher cannot lay ``path`` under a programme (None when it can): checked before
    any spend, since the bed is only read once every shot has been paid for. With ``heard_s``
    (the programme's length) the part of the bed it would hear is decoded: silence is refused."""
    if (missing := not_a_file(path)) is not None:
        return missing
    info = probe(path)
    if info.error:
        return f"{path} cannot be read as media: {info.error}"
    if not info.has_audio:
        return f"{path} has no audio stream"
    seconds = info.audio_duration_s or info.duration_s
    if seconds < MIN_MUSIC_S:
        return f"{path} lasts {seconds:.3f}s; a bed must last at least {MIN_MUSIC_S:g}s to loop"
    return None if heard_s is None else _silence_problem(path, heard_s)


def not_finite(samples: Pcm) -> str | None:
    """Why decoded samples cannot be mixed: some are not numbers (a float file's NaN or
    infinity: one made the AAC encoder refuse the programme after every shot was paid)."""
    if np.isfinite(samples).all():
        return None
    return "has samples that are not numbers (NaN or infinity): it cannot be mixed"


def _silence_problem(path: Path, heard_s: float) -> str | None:
    import av.error

    from stitching.voiceover import read_mono

    try:
        samples = read_mono(path, rate=SILENCE_RATE, max_s=heard_s)
    except (av.error.FFmpegError, ValueError) as exc:
        return f"{path} cannot be decoded: {exc}"
    if (bad := not_finite(samples)) is not None:
        return f"{path} {bad}"
    rms = float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
    if rms < SILENT_RMS:
        heard = min(heard_s, samples.size / SILENCE_RATE)
        return f"{path} is silent (under -60 dBFS) over the {heard:.1f} s the programme would hear"
    return None


def music_bed(music: MusicBed, foreground: Pcm, sample_rate: int) -> Pcm:
    """Music looped to length at ``gain_db``, ducked by ``duck_db`` where the shots have sound."""
    raw = run_ffmpeg_stdout(
        ["-stream_loop", "-1", "-i", str(music.path), "-map", "0:a:0", "-t",
         f"{len(foreground) / sample_rate:.6f}", "-ac", "2", "-ar", str(sample_rate),
         "-f", "f32le", "pipe:1"]
    )  # fmt: skip
    bed = np.zeros_like(foreground)
    samples = np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)[: len(bed)]
    # a sample that is not a number (past the part planning decoded, or a generated bed's) is
    # silence: one NaN made the AAC encoder refuse the whole programme
    samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    bed[: len(samples)] = samples
    hop = sample_rate // 20
    blocks = len(foreground) // hop + 1
    padded = np.zeros((blocks * hop, 2), dtype=np.float32)
    padded[: len(foreground)] = foreground
    rms = np.sqrt(np.mean(padded.reshape(blocks, hop * 2) ** 2, axis=1))
    speaking = (rms > 10 ** (-45 / 20)).astype(np.float32)
    duck = _smooth(speaking, 6)
    gain_db = music.gain_db + music.duck_db * np.repeat(duck, hop)[: len(bed)]
    return (bed * (10 ** (gain_db / 20))[:, None]).astype(np.float32)


GATED_BELOW_LUFS = -60.0
"""BS.1770 leaves out 400 ms blocks under -70 LUFS, then those 10 LU under the rest. A mix under
-60 LUFS can have blocks the first gate left out and the second would keep: raised, they count,
and the gain its first measurement gives falls short (a 0.55 s programme whose only sound was a
music bed at -40 dB measured -68.5 LUFS, was raised 52.5 dB and came out at -17.6 for -16). Such
a mix is raised first and measured again."""


HOT_FROM_LUFS = 0.0
"""FFmpeg's ebur128 counts a 400 ms block's loudness up to +10 LUFS (``ABS_UP_THRES`` in
libavfilter/f_ebur128.c): in a hotter mix those blocks read +10 (a float bed peaking at +40 dBFS
under two shots measured +8.5, was lowered 24.5 dB and came out at -10 LUFS for -16, failing
verification after every shot was paid). A mix reading 0 LUFS or more, louder than any
programme, is lowered to the target first and measured again (the measure is linear: a mix
whose blocks all read true comes out the same)."""


def normalise_loudness(pcm: Pcm, profile: OutputProfile) -> tuple[Pcm, dict[str, float | bool]]:
    """Gain to the target; if that overshoots the true-peak ceiling, limit and re-measure. The
    report's ``reachable_lufs``, present when the limiter holds the programme short of the target,
    is what ``loudness_check.within_reach`` accepts instead."""
    first = measure_pcm(pcm, profile.sample_rate)
    lift, measured = 0.0, first
    for _ in range(8):  # a round lowers a mix reading 0 LUFS or more by 10 dB at least
        if measured.silent or GATED_BELOW_LUFS <= measured.integrated < HOT_FROM_LUFS:
            break
        step = profile.loudness_lufs - measured.integrated
        lift += step
        pcm = (pcm * np.float32(10 ** (step / 20))).astype(np.float32)
        measured = measure_pcm(pcm, profile.sample_rate)
    gain, needs_limiter = gain_for(measured, profile)
    reachable = None
    if needs_limiter:
        result, gain, reachable = limited_to_target(pcm, gain, profile)
    else:
        result = (pcm * np.float32(10 ** (gain / 20))).astype(np.float32)
    report: dict[str, float | bool] = {
        "mix_lufs": first.integrated,
        "mix_true_peak_db": first.true_peak,
        "gain_db": round(lift + gain, 2),
        "limited": needs_limiter,
    }
    if reachable is not None:
        report["reachable_lufs"] = round(reachable, 2)
    return result, report


def interiors(plan: EditPlan) -> list[Interior]:
    """Per shot, the stretch its own grid-aligned AAC can supply in this plan (away from joins)."""
    found = []
    last = len(plan.shots) - 1
    for index, shot in enumerate(plan.shots):
        offset = shot.segment.audio_offset
        if offset is None or (shot.sample_in - offset) % FRAME:
            continue
        into = plan.profile.samples_for(shot.transition_frames)
        following = plan.shots[index + 1] if index < last else None
        out = plan.profile.samples_for(following.transition_frames) if following else 0
        start = (
            None if index == 0 and not into else aac.grid_ceil(shot.sample_in + into) + aac.PREROLL
        )
        end = None if index == last else aac.grid_floor(shot.sample_out - out) - aac.POSTROLL
        if (start or 0) < (plan.total_samples if end is None else end):
            found.append(Interior(index, Stretch(start, end)))
    return found


def gaps(copied: list[Interior]) -> list[Stretch]:
    """The stretches of the programme no interior covers: these are encoded from PCM."""
    stretches, position = [], None
    for interior in copied:
        if interior.keep.keep_from is not None and (position or 0) < interior.keep.keep_from:
            stretches.append(Stretch(position, interior.keep.keep_from))
        position = interior.keep.keep_to
        if position is None:
            return stretches
    stretches.append(Stretch(position, None))
    return stretches


def estimate_lufs(plan: EditPlan) -> float | None:
    """The programme's loudness before anything is mixed: from the segments' saved sub-blocks
    (``laid_out_lufs``), else from the shots' own loudness (``shot_level_lufs``)."""
    laid_out = laid_out_lufs(plan)
    return laid_out if laid_out is not None else shot_level_lufs(plan)


def laid_out_lufs(plan: EditPlan) -> float | None:
    """Each segment's 100 ms sub-blocks (``meter.save_segment``) laid at its place, overlaps
    added, then the meter's gating run over the whole programme (a sub-block no segment covers
    whole, at a join off the 100 ms grid, takes its neighbours' level). None when a segment's
    sub-blocks are not saved or not on this grid, or when the programme is silent."""
    rate = plan.profile.sample_rate
    if rate % 10:
        return None
    count = plan.total_samples // meter.hop(rate)
    energy, covered = np.zeros(count), np.zeros(count, dtype=bool)
    for index in range(len(plan.shots)):
        laid = _laid_blocks(plan, index, count)
        if laid is None:
            return None
        first, shot_energy = laid
        energy[first : first + len(shot_energy)] += shot_energy
        covered[first : first + len(shot_energy)] = True
    if not covered.any():
        return None
    holes = np.flatnonzero(~covered)
    energy[holes] = np.interp(holes, np.flatnonzero(covered), energy[covered])
    loudness = meter.integrated(energy, rate)
    return None if loudness == meter.SILENCE else loudness


def _laid_blocks(plan: EditPlan, index: int, count: int) -> tuple[int, meter.Energy] | None:
    """Shot ``index``'s saved sub-blocks that lie wholly inside it: the first one's programme
    index and their energies, scaled by the mean power of its transitions' gain over each."""
    shot, rate = plan.shots[index], plan.profile.sample_rate
    step = meter.hop(rate)
    found = meter.load(meter.blocks_path(shot.segment.path), rate, shot.sample_in)
    if found is None:
        return None
    blocks = found[0].between(-(-shot.sample_in // step), min(shot.sample_out // step, count))
    lo = blocks.first * step - shot.sample_in
    gain = _envelope(plan, index, lo, lo + len(blocks.energy) * step)
    return blocks.first, blocks.energy * np.square(gain).reshape(-1, step).mean(axis=1)


def shot_level_lufs(plan: EditPlan) -> float | None:
    """Programme loudness from the shots' own final loudness (energy-weighted, relative gate)."""
    parts = [(s.segment.final_lufs, s.segment.samples) for s in plan.shots]
    heard = [(lufs, n) for lufs, n in parts if lufs is not None]
    for _ in range(2):
        if not heard:
            return None
        total = sum(n for _, n in heard)
        mean = 10 * np.log10(sum(n * 10 ** (lufs / 10) for lufs, n in heard) / total)
        heard = [(lufs, n) for lufs, n in heard if lufs >= mean - 10]
    return float(mean)


def fast_path_problem(plan: EditPlan) -> tuple[str | None, float | None]:
    """Why the copy path cannot be used for this plan (None: it can), and the programme's
    estimated loudness when it was needed to tell."""
    if plan.music is not None:
        return "a music bed is mixed under the whole programme", None
    if any(shot.segment.audio_offset is None for shot in plan.shots):
        return "a segment was normalised without its audio made final", None
    estimate = estimate_lufs(plan)
    if estimate is not None and abs(estimate - plan.profile.loudness_lufs) > ON_TARGET_LU:
        return (
            f"the shots add up to {estimate:.1f} LUFS, not {plan.profile.loudness_lufs:g}",
            estimate,
        )
    return None, estimate


def _window_pcm(plan: EditPlan, lo: int, hi: int) -> Pcm:
    """Programme samples ``[lo, hi)``, limited where their true peak passes the ceiling (not
    looked for when even ``peak_bound`` times the largest sample stays under it)."""
    pcm = mix_range(plan, lo, hi)
    ceiling = plan.profile.true_peak_db - PEAK_HEADROOM_DB
    if not len(pcm) or float(np.abs(pcm).max()) * PEAK_BOUND <= 10 ** (ceiling / 20):
        return pcm
    if 20 * np.log10(max(float(true_peaks(pcm).max()), 1e-9)) > ceiling:
        pcm = limit(pcm, ceiling, plan.profile.sample_rate)
    return pcm


def render(
    plan: EditPlan, encode: bool = False, headroom_db: float = 0.0
) -> tuple[list[Interior], list[Packet], dict[str, Any]]:
    """Interiors to copy, encoded packets for the rest (programme pts), and a report; with
    ``encode``, the whole programme mixed, normalised and encoded (no copy), its true peak held
    ``headroom_db`` more under the ceiling (room for what the AAC encode added the last time)."""
    total = plan.total_samples
    problem, estimate = (
        ("asked to mix the whole programme again", None) if encode else fast_path_problem(plan)
    )
    if problem is None:
        copied = interiors(plan)
        stretches = gaps(copied)
        packets = aac.encode_stretches(lambda lo, hi: _window_pcm(plan, lo, hi), stretches, total,
                                       plan.profile)  # fmt: skip
        encoded = sum(p.duration or FRAME for p in packets)
        report = {"audio_path": "copy", "copied_shots": len(copied), "encoded_samples": encoded,
                  "programme_lufs_estimate": estimate}  # fmt: skip
        return copied, packets, report
    lowered = replace(plan.profile, true_peak_db=plan.profile.true_peak_db - headroom_db)
    pcm, loudness = normalise_loudness(mix(plan), lowered)
    packets = aac.encode_stretches(lambda lo, hi: pcm[lo:hi], [Stretch(None, None)], total,
                                   plan.profile)  # fmt: skip
    more = {"extra_headroom_db": round(headroom_db, 2)} if headroom_db else {}
    return [], packets, {"audio_path": "encode", "reason": problem, **loudness, **more}
