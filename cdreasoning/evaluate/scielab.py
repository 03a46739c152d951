"""S-CIELAB (Zhang & Wandell 1996): CIEDE2000 after filtering the images like the eye's spatial blur.

    from cdreasoning.evaluate.scielab import ViewingConditions, mean_scielab
    spd = ViewingConditions(display_ppi=109, viewing_distance_cm=60).samples_per_degree()   # ≈ 44.9
    mean_scielab(rgb_a, rgb_b, spd)              # uint8 (H, W, 3) arrays → mean S-CIELAB ΔE00

Fine colour detail the eye cannot resolve at the viewing distance should not count as a colour difference.
S-CIELAB (X. Zhang and B. A. Wandell, "A spatial extension of CIELAB for digital color image reproduction",
SID 1996 / J. SID 5(1), 1997) therefore, for each image:

1. sRGB → CIE XYZ (`colour_difference`), then → the Poirson-Wandell opponent space, one luminance and two
   chromatic planes, with the matrix of the S-CIELAB reference code (`cmatrix('xyz2opp')`, CIE 1931 2°):
       O1 =  0.2787336 X + 0.7218031 Y − 0.1065520 Z      (luminance)
       O2 = −0.4487736 X + 0.2898056 Y + 0.0771569 Z      (red-green)
       O3 =  0.0859513 X − 0.5899859 Y + 0.5011089 Z      (blue-yellow)
2. Convolve each plane with its spatial kernel, a weighted sum of 2-D Gaussians
       k(x, y) = Σ_i w_i · g_i(x) · g_i(y),   g_i a unit-sum Gaussian of full width at half maximum h_i,
   with (h_i in degrees of visual angle, w_i) from the reference code (weights normalised to sum to 1):
       luminance:    (0.05, 1.00327), (0.225, 0.114416), (7.0, −0.117686)
       red-green:    (0.0685, 0.616725), (0.826, 0.383275)
       blue-yellow:  (0.0920, 0.567885), (0.6451, 0.432115)
   h_i is converted to pixels with the samples (pixels) per degree of visual angle, spd; as in the reference
   code the kernels are truncated to one degree (an odd width of ceil(spd/2)·2 − 1 pixels) and each Gaussian
   is renormalised to unit sum on that support, so every kernel sums to 1 (a uniform field is unchanged).
   Where the reference code up-samples the kernels below 224 spd, we integrate each Gaussian over the pixel
   footprint (exact with erf), which keeps the sub-pixel luminance Gaussian (0.05° ≈ 2.2 px at 44.9 spd) right
   at any resolution. Image borders are extended by mirror reflection. The convolution runs as an FFT.
3. Back to XYZ (inverse opponent matrix), → CIELAB (D65), and the per-pixel colour difference is CIEDE2000
   (the original paper used ΔE*ab; CIEDE2000 is what SPCD's S-CIELAB baseline and later work report).
   The score of a pair is the mean over pixels.

Viewing conditions: spd = 2 · d · tan(0.5°) · ppi with d the viewing distance in inches and ppi the
display's pixels per inch, for the image shown at its native resolution. The default, a 27-inch 2560×1440
monitor (109 ppi) seen from 60 cm, gives ≈ 44.9 spd (a 1024-px image then spans ≈ 22.8°). When the pipeline
downsizes an image by a factor s before filtering (`--max-side`), the same physical viewing is simulated
with s · spd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft, special

from cdreasoning.colour import SRGB_TO_XYZ, apply_matrix, linear_planes, xyz_planes_to_lab
from cdreasoning.evaluate.colour_difference import delta_e_planes

__all__ = [
    "SCIELAB_KERNEL_PARAMETERS",
    "XYZ_TO_OPPONENT",
    "ViewingConditions",
    "mean_scielab",
    "scielab_filter_xyz",
    "scielab_kernels",
]

XYZ_TO_OPPONENT = (
    np.array(
        [
            [278.7336, 721.8031, -106.5520],
            [-448.7736, 289.8056, 77.1569],
            [85.9513, -589.9859, 501.1089],
        ]
    )
    / 1000.0
)
# The exact inverse: the filtering happens in opponent space and the result returns to XYZ.
OPPONENT_TO_XYZ = np.linalg.inv(XYZ_TO_OPPONENT)
# Per opponent plane: ((full width at half maximum in degrees, weight), ...).
SCIELAB_KERNEL_PARAMETERS = (
    ((0.05, 1.00327), (0.225, 0.114416), (7.0, -0.117686)),
    ((0.0685, 0.616725), (0.826, 0.383275)),
    ((0.0920, 0.567885), (0.6451, 0.432115)),
)
CM_PER_INCH = 2.54


@dataclass(frozen=True)
class ViewingConditions:
    """How the images are seen; S-CIELAB's kernels are defined in degrees of visual angle.

    display_ppi: pixels per inch of the display showing the image at native resolution (109 = 27" QHD).
    viewing_distance_cm: eye-to-screen distance.
    samples_per_degree: set to use this value directly instead of deriving it from the two above.
    """

    display_ppi: float = 109.0
    viewing_distance_cm: float = 60.0
    samples_per_degree_override: float | None = None

    def __post_init__(self) -> None:
        for name in ("display_ppi", "viewing_distance_cm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        spd = self.samples_per_degree_override
        if spd is not None and not (isinstance(spd, (int, float)) and math.isfinite(spd) and spd > 0):
            raise ValueError(f"samples per degree must be a positive number, got {spd!r}")

    def samples_per_degree(self) -> float:
        """Pixels per degree of visual angle at the centre of the display."""
        if self.samples_per_degree_override is not None:
            return float(self.samples_per_degree_override)
        inches = self.viewing_distance_cm / CM_PER_INCH
        return 2.0 * inches * math.tan(math.radians(0.5)) * self.display_ppi


def _gaussian_1d(fwhm_px: float, width: int) -> np.ndarray:
    """Unit-sum Gaussian of the given FWHM (pixels), integrated over each pixel of an odd `width` support."""
    radius = width // 2
    # FWHM = 2·sqrt(2·ln 2)·σ.
    sigma = fwhm_px / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    # Pixel i covers [i − ½, i + ½]: its mass is the difference of erf at its two edges (exact integration).
    edges = (np.arange(-radius, radius + 2) - 0.5) / (sigma * math.sqrt(2.0))
    mass = np.diff(special.erf(edges))
    # Unit sum on the truncated support, as the reference code renormalises, so a uniform field is unchanged.
    return mass / mass.sum()


@lru_cache(maxsize=16)
def scielab_kernels(samples_per_degree: float) -> np.ndarray:
    """The three 2-D kernels (luminance, red-green, blue-yellow) at this resolution: (3, K, K) float64."""
    if not (math.isfinite(samples_per_degree) and samples_per_degree > 0):
        raise ValueError(f"samples per degree must be positive, got {samples_per_degree!r}")
    # One degree of visual angle, odd so the kernel is centred: ceil(spd/2)·2 − 1 pixels (reference code).
    width = max(1, math.ceil(samples_per_degree / 2.0) * 2 - 1)
    kernels = []
    for plane in SCIELAB_KERNEL_PARAMETERS:
        k = np.zeros((width, width))
        for fwhm_deg, weight in plane:
            g = _gaussian_1d(fwhm_deg * samples_per_degree, width)
            # Separable Gaussians: outer(g, g) is the 2-D one; a
            # weight may be negative (the luminance surround).
            k += weight * np.outer(g, g)
        kernels.append(k)
    return np.stack(kernels)


# Cached per FFT size: every image of one size reuses the kernels' spectra.
@lru_cache(maxsize=8)
def _kernel_spectrum(samples_per_degree: float, fft_shape: tuple[int, int]) -> np.ndarray:
    # float32 kernels, so the spectra and the products below stay complex64.
    kernels = scielab_kernels(samples_per_degree).astype(np.float32)
    return fft.rfft2(kernels, s=fft_shape, axes=(-2, -1))


def _filter_planes(planes: np.ndarray, samples_per_degree: float) -> np.ndarray:
    """Convolve (n, 3, H, W) opponent planes with the three kernels; same shape out.

    Linear convolution through the FFT: mirror-pad by the kernel radius r, transform at a fast size
    ≥ H + 2r, multiply, and keep the H × W outputs whose kernel support lies inside the padded image (the
    circular wrap-around only touches the first 2r outputs, which are discarded).
    """
    h, w = planes.shape[-2:]
    k = scielab_kernels(samples_per_degree).shape[-1]
    r = k // 2
    if r == 0:
        # A one-pixel kernel (spd ≤ 2): the filter is a per-plane scale by the kernel's only value.
        return planes * scielab_kernels(samples_per_degree)[:, 0, 0].astype(np.float32)[None, :, None, None]
    # Mirror padding: borders extended by reflection, so no dark frame leaks in as zero padding would.
    padded = np.pad(planes, ((0, 0), (0, 0), (r, r), (r, r)), mode="reflect")
    # next_fast_len: FFT sizes with small prime factors, much faster than an awkward h + 2r.
    shape = (fft.next_fast_len(h + 2 * r, real=True), fft.next_fast_len(w + 2 * r, real=True))
    spectrum = fft.rfft2(padded, s=shape, axes=(-2, -1))
    spectrum *= _kernel_spectrum(samples_per_degree, shape)[None]
    full = fft.irfft2(spectrum, s=shape, axes=(-2, -1))
    return full[:, :, 2 * r : 2 * r + h, 2 * r : 2 * r + w].astype(np.float32, copy=False)


def scielab_filter_xyz(xyz: np.ndarray, samples_per_degree: float) -> np.ndarray:
    """(H, W, 3) XYZ → (H, W, 3) XYZ as seen through the S-CIELAB spatial filters."""
    xyz = np.asarray(xyz, dtype=np.float32)
    planes = np.stack(apply_matrix(XYZ_TO_OPPONENT, [xyz[..., i] for i in range(3)]))[None]
    filtered = _filter_planes(planes, samples_per_degree)[0]
    return np.stack(apply_matrix(OPPONENT_TO_XYZ, list(filtered)), axis=-1)


def scielab_delta_e_map(rgb_a: np.ndarray, rgb_b: np.ndarray, samples_per_degree: float) -> np.ndarray:
    """Per-pixel S-CIELAB ΔE00 (H, W) of two same-shape sRGB images."""
    rgb_a, rgb_b = np.asarray(rgb_a), np.asarray(rgb_b)
    if rgb_a.shape != rgb_b.shape:
        raise ValueError(
            f"images differ in shape: {rgb_a.shape} vs {rgb_b.shape}; resize them to a common size"
        )
    # The opponent matrix composed with sRGB → XYZ once: one 3×3 pass per image instead of two.
    opponent = [
        np.stack(apply_matrix(XYZ_TO_OPPONENT @ SRGB_TO_XYZ, linear_planes(rgb))) for rgb in (rgb_a, rgb_b)
    ]
    filtered = _filter_planes(np.stack(opponent), samples_per_degree)  # (2, 3, H, W), both in one FFT
    labs = [xyz_planes_to_lab(apply_matrix(OPPONENT_TO_XYZ, list(f))) for f in filtered]
    return delta_e_planes(labs[0], labs[1], "ciede2000")


def mean_scielab(rgb_a: np.ndarray, rgb_b: np.ndarray, samples_per_degree: float) -> float:
    """Mean over pixels of the S-CIELAB ΔE00 of two same-shape sRGB images."""
    # float64 accumulation: a float32 mean over millions of pixels loses digits.
    return float(np.mean(scielab_delta_e_map(rgb_a, rgb_b, samples_per_degree), dtype=np.float64))
