"""sRGB ↔ linear light, sRGB → XYZ → CIELAB (D65): the one implementation, numpy only (core layer).

    from cdreasoning.colour import srgb_to_lab
    lab = srgb_to_lab(rgb)            # (..., 3) uint8 or float in [0, 1] → (..., 3) float32 CIELAB (D65)

Used by the CIE ΔE and S-CIELAB baselines (`evaluate`) and by the synthetic set's perceptual proxy and ISP
renderer (`data.synth`). The constants are colour-science's defaults, so the ΔE tests can compare against it:

- sRGB decoding: IEC 61966-2-1 (linear below 0.04045, ((v + 0.055)/1.055)^2.4 above); 8-bit images through a
  256-entry lookup table.
- sRGB → XYZ: the IEC 61966-2-1 matrix (4 decimals, as colour-science uses it); Y of white = 1.
- XYZ → CIELAB: reference white D65 from its chromaticity (0.3127, 0.3290);
  f(t) = t^(1/3) above 216/24389, (24389/27 · t + 16)/116 below.

Internally images are planar (3 × (H, W) float32): the matrix is applied as 9 fused multiply-adds, which is
faster than an (N, 3) @ (3, 3) product and needs no BLAS threads.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "D65_WHITE_XYZ",
    "SRGB_TO_XYZ",
    "apply_matrix",
    "linear_planes",
    "linear_to_srgb",
    "srgb_to_lab",
    "srgb_to_lab_planes",
    "srgb_to_linear",
    "srgb_to_xyz",
    "xyz_planes_to_lab",
    "xyz_to_lab",
]

# IEC 61966-2-1 publishes the sRGB → XYZ matrix rounded to 4 decimals; colour-science uses that matrix.
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
# CIELAB reference white: D65 from its chromaticity (0.3127, 0.3290), Y = 1 (colour-science's default).
D65_WHITE_XYZ = np.array([0.3127 / 0.3290, 1.0, (1.0 - 0.3127 - 0.3290) / 0.3290])


def _decode_srgb(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    # np.where evaluates both branches; the power of a negative value is NaN only where it is discarded.
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


# 8-bit input takes 256 values: decode them once and index, instead of a power per pixel.
_DECODE_LUT_8BIT = _decode_srgb(np.arange(256) / 255.0).astype(np.float32)


def linear_planes(rgb: np.ndarray) -> list[np.ndarray]:
    """(H, W, 3) sRGB (uint8, or float in [0, 1]) → three linear-light float32 planes."""
    rgb = np.asarray(rgb)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an (..., 3) RGB array, got shape {rgb.shape}")
    if rgb.dtype == np.uint8:
        return [_DECODE_LUT_8BIT[rgb[..., c]] for c in range(3)]
    if not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"RGB must be uint8 or float in [0, 1], got {rgb.dtype}")
    return [_decode_srgb(rgb[..., c]).astype(np.float32) for c in range(3)]


def apply_matrix(matrix: np.ndarray, planes: list[np.ndarray]) -> list[np.ndarray]:
    """3 planes through a 3×3 matrix, as 9 fused multiply-adds (no BLAS threads, no (N, 3) copies)."""
    m = matrix.astype(np.float32)
    # float32 coefficients: under NumPy 2's promotion a float64 scalar would upcast the whole float32 plane.
    return [m[i, 0] * planes[0] + m[i, 1] * planes[1] + m[i, 2] * planes[2] for i in range(3)]


_LAB_EPSILON = 216.0 / 24389.0
_LAB_KAPPA = 24389.0 / 27.0


def _lab_f(t: np.ndarray) -> np.ndarray:
    out = np.cbrt(t)
    # float32 constants for the same reason (np.float64 scalars upcast, plain Python floats do not).
    linear = np.float32(_LAB_KAPPA / 116.0) * t + np.float32(16.0 / 116.0)
    out += (t <= _LAB_EPSILON) * (
        linear - out
    )  # the linear segment near black (a multiply by the mask, not np.where: one pass, no copies)
    return out


def xyz_planes_to_lab(planes: list[np.ndarray]) -> list[np.ndarray]:
    """Three XYZ planes → three CIELAB planes (D65 white)."""
    # Normalised by the white point, so the reference white has L* = 100 and a* = b* = 0.
    fx, fy, fz = (_lab_f(p / np.float32(w)) for p, w in zip(planes, D65_WHITE_XYZ))
    return [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]


def srgb_to_xyz(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) sRGB → (H, W, 3) float32 XYZ (Y of white = 1)."""
    return np.stack(apply_matrix(SRGB_TO_XYZ, linear_planes(rgb)), axis=-1)


def xyz_to_lab(xyz: np.ndarray) -> np.ndarray:
    """(H, W, 3) XYZ → (H, W, 3) float32 CIELAB under D65."""
    xyz = np.asarray(xyz, dtype=np.float32)
    return np.stack(xyz_planes_to_lab([xyz[..., c] for c in range(3)]), axis=-1)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) sRGB → (H, W, 3) float32 CIELAB (D65)."""
    return np.stack(srgb_to_lab_planes(rgb), axis=-1)


def srgb_to_lab_planes(rgb: np.ndarray) -> list[np.ndarray]:
    """(H, W, 3) sRGB → three float32 CIELAB planes (L*, a*, b*)."""
    return xyz_planes_to_lab(apply_matrix(SRGB_TO_XYZ, linear_planes(rgb)))


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] → linear light, float32 (same shape)."""
    return _decode_srgb(x).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light → sRGB-encoded values, clipped to [0, 1] first; float32 (same shape)."""
    # Clip first: the power of a negative value is NaN, and sRGB has no code for values above 1.
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)
