"""The one sRGB conversion (`cdreasoning.colour`) against values computed by hand from IEC 61966-2-1."""

from __future__ import annotations

import numpy as np

from cdreasoning.colour import linear_to_srgb, srgb_to_lab, srgb_to_linear


def test_srgb_transfer_function_by_hand():
    # 0.02 is on the linear segment: 0.02 / 12.92; 0.5 on the power segment: ((0.5 + 0.055) / 1.055) ** 2.4
    values = np.array([0.0, 0.02, 0.5, 1.0])
    expected = np.array([0.0, 0.02 / 12.92, 0.21404114048223255, 1.0])
    np.testing.assert_allclose(srgb_to_linear(values), expected, rtol=1e-6)
    np.testing.assert_allclose(linear_to_srgb(expected), values, atol=1e-6)
    assert srgb_to_linear(values).dtype == np.float32


def test_white_and_black_in_lab():
    # sRGB white is XYZ = the row sums of the 4-decimal IEC matrix (0.9505, 1.0, 1.0890); the reference white
    # is D65 from its chromaticity (0.3127, 0.3290), so a* and b* are small but not zero (as in colour-science)
    white_xyz = np.array([0.4124 + 0.3576 + 0.1805, 1.0, 0.0193 + 0.1192 + 0.9505])
    d65 = np.array([0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290])
    f = np.cbrt(white_xyz / d65)
    expected_white = [116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])]
    lab = srgb_to_lab(np.array([[[255, 255, 255], [0, 0, 0]]], dtype=np.uint8))
    np.testing.assert_allclose(lab[0, 0], expected_white, atol=1e-4)
    assert abs(lab[0, 0, 1]) < 0.01 and abs(lab[0, 0, 2]) < 0.01
    np.testing.assert_allclose(lab[0, 1], [0.0, 0.0, 0.0], atol=1e-6)
