"""The perceptual proxy ΔV of the synthetic set: a stand-in for SPCD's human ratings, on SPCD's scale.

    from cdreasoning.data.synth.proxy import proxy_delta_v
    dv = proxy_delta_v(render_a, render_b, observer_z=0.0)     # renders: float sRGB [H, W, 3], same frame

Formula (PROXY_VERSION "pv1"); a and b are the two images rendered in the *reference frame* (before
the phones' geometric framing: a misalignment is not a colour difference to an observer):

1. viewing scale: box-average both images to at most 128 px, Gaussian blur σ = 0.75 px, CIELAB (D65).
   Per pixel: ΔL*, chroma C = mean of both chromas, ΔC, ΔH = sqrt(max(Δa²+Δb²−ΔC², 0)).
2. local term   E = ( mean e³ )^(1/3),  e = sqrt( (ΔL/2)² + (ΔC/(1+0.03C))² + (ΔH/(1+0.01C))² )
   — lightness half-weighted, a Minkowski-3 pool so that a strong local change counts more than its mean.
3. global term  G = sqrt( (ΔL̄/2)² + Δā² + Δb̄² ) over the image means — a colour cast of the whole picture.
4. detail term  T = Σ_region mean_w | σ_a − σ_b |, σ = local standard deviation of L* (Gaussian σ = 2 px),
   with soft region weights w = sigmoid((35 − L̄)/6) for shadows and sigmoid((L̄ − 70)/6) for highlights —
   lost or crushed texture in dark and bright areas.
5. D = E + 0.6·G + 1.5·T, mapped compressively onto SPCD's scale:  ΔV₀ = 0.9 + 0.64·D^0.75 (a power law
   fitted so that the quantiles of the synthetic ΔV follow those of SPCD's train split at 256 px: median
   ≈ 4.3, 99th percentile ≈ 10).
6. observer noise:  ΔV = clip(ΔV₀ · exp(0.10·z), 0.9, 16.5) with z ~ N(0, 1) drawn per pair from the seed.
   A mean of 20 observers with SPCD's split-half STRESS (~19) carries about 10 % relative noise.

It differs on purpose from every baseline the project evaluates (mean ΔE76 / ΔE94 / ΔE2000 over pixels,
S-CIELAB): other weights, Minkowski and global pooling, a texture term, compression and noise, and it ignores
misalignment — so those baselines correlate well but not perfectly with it, as on real SPCD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cdreasoning.colour import srgb_to_lab

PROXY_VERSION = "pv1"
PROXY_FORMULA = (
    "D = E + 0.6*G + 1.5*T at viewing scale (<=128 px box average, Gaussian sigma 0.75 px, CIELAB D65) "
    "on the pre-framing renders; E = (mean e^3)^(1/3), "
    "e = sqrt((dL/2)^2 + (dC/(1+0.03C))^2 + (dH/(1+0.01C))^2); G = sqrt((dLmean/2)^2 + damean^2 + dbmean^2); "
    "T = sum over shadow/highlight soft masks of the mean |difference of local L* std (sigma 2 px)|; "
    "dV0 = 0.9 + 0.64*D^0.75; dV = clip(dV0*exp(0.10*z), 0.9, 16.5), z ~ N(0,1) per pair"
)
VIEW_PIXELS = 128
NOISE_SIGMA = 0.10
DV_MIN, DV_GAIN, DV_POWER, DV_MAX = 0.9, 0.64, 0.75, 16.5


@dataclass(frozen=True)
class ProxyView:
    """One image at viewing scale with the per-image parts of the formula (computed once per image)."""

    lab: np.ndarray  # [h, w, 3] CIELAB
    chroma: np.ndarray  # [h, w]    C*ab
    texture: np.ndarray  # [h, w]    local standard deviation of L* (Gaussian σ = 2 px)


def viewing_lab(srgb: np.ndarray) -> np.ndarray:
    """Box-average to ≤ VIEW_PIXELS, blur (σ 0.75 px), CIELAB: [H, W, 3] → [h, w, 3] float64."""
    from scipy.ndimage import gaussian_filter

    image = np.asarray(srgb, dtype=np.float64)
    factor = max(1, math.ceil(max(image.shape[:2]) / VIEW_PIXELS))
    if factor > 1:
        h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
        image = image[:h, :w].reshape(h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3))
    image = gaussian_filter(image, sigma=(0.75, 0.75, 0))
    return srgb_to_lab(np.clip(image, 0.0, 1.0)).astype(np.float64)


def viewing_image(srgb: np.ndarray) -> ProxyView:
    """Step 1 for one image (sRGB [H, W, 3] in [0, 1])."""
    from scipy.ndimage import gaussian_filter

    lab = viewing_lab(srgb)
    lightness = lab[..., 0]
    mean = gaussian_filter(lightness, 2.0)
    texture = np.sqrt(np.maximum(gaussian_filter(lightness**2, 2.0) - mean**2, 0.0))
    return ProxyView(lab, np.hypot(lab[..., 1], lab[..., 2]), texture)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def proxy_terms(a: ProxyView, b: ProxyView) -> dict[str, float]:
    """E, G, T and D of the formula (module docstring) for two images at viewing scale."""
    d = a.lab - b.lab
    chroma = 0.5 * (a.chroma + b.chroma)
    d_chroma = a.chroma - b.chroma
    d_hue = np.sqrt(np.maximum(d[..., 1] ** 2 + d[..., 2] ** 2 - d_chroma**2, 0.0))
    e = np.sqrt(
        (d[..., 0] / 2) ** 2 + (d_chroma / (1 + 0.03 * chroma)) ** 2 + (d_hue / (1 + 0.01 * chroma)) ** 2
    )
    local = float(np.mean(e**3) ** (1 / 3))
    mean_d = d.reshape(-1, 3).mean(axis=0)
    global_ = float(math.sqrt((mean_d[0] / 2) ** 2 + mean_d[1] ** 2 + mean_d[2] ** 2))
    mean_l = 0.5 * (a.lab[..., 0] + b.lab[..., 0])
    texture_gap = np.abs(a.texture - b.texture)
    detail = 0.0
    for weight in (_sigmoid((35.0 - mean_l) / 6.0), _sigmoid((mean_l - 70.0) / 6.0)):
        total = float(weight.sum())
        if total > 1e-6:
            detail += float((weight * texture_gap).sum() / total)
    return {"E": local, "G": global_, "T": detail, "D": local + 0.6 * global_ + 1.5 * detail}


def delta_v_from_distance(distance: float) -> float:
    """The compressive map of step 5 (noise-free ΔV₀)."""
    return DV_MIN + DV_GAIN * max(distance, 0.0) ** DV_POWER


def observed_delta_v(clean: float, observer_z: float) -> float:
    """Step 6: the noise-free ΔV₀ as a panel of observers would report it (z = a standard normal draw)."""
    return float(min(max(clean * math.exp(NOISE_SIGMA * observer_z), DV_MIN), DV_MAX))


def proxy_delta_v(render_a: np.ndarray, render_b: np.ndarray, observer_z: float = 0.0) -> float:
    """ΔV of two sRGB images [H, W, 3] in [0, 1] in the same frame (module docstring).

    observer_z = 0 gives the noise-free ΔV₀.
    """
    terms = proxy_terms(viewing_image(render_a), viewing_image(render_b))
    return observed_delta_v(delta_v_from_distance(terms["D"]), observer_z)
