"""CIE ΔE formulas and S-CIELAB: against colour-science, the published CIEDE2000 test data, and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cdreasoning.colour import srgb_to_lab, srgb_to_xyz
from cdreasoning.evaluate.colour_difference import delta_e, mean_delta_e
from cdreasoning.evaluate.scielab import (
    ViewingConditions,
    mean_scielab,
    scielab_filter_xyz,
    scielab_kernels,
)
from tests.evaluate.synthetic_pairs import crop, white_balance_edit

colour = pytest.importorskip("colour")


def _tiny_pair(seed=0, size=24):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_lab_matches_colour_science():
    a, _ = _tiny_pair()
    expected = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(a / 255.0))
    np.testing.assert_allclose(srgb_to_lab(a), expected, atol=2e-4)
    np.testing.assert_allclose(srgb_to_xyz(a), colour.sRGB_to_XYZ(a / 255.0), atol=1e-6)
    # float input in [0, 1] takes the same path as uint8
    np.testing.assert_allclose(srgb_to_lab(a / 255.0), srgb_to_lab(a), atol=2e-4)


@pytest.mark.parametrize(
    "method, colour_method", [("cie76", "CIE 1976"), ("cie94", "CIE 1994"), ("ciede2000", "CIE 2000")]
)
def test_mean_delta_e_matches_colour_science_on_a_tiny_image(method, colour_method):
    a, b = _tiny_pair()
    lab_a = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(a / 255.0))
    lab_b = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(b / 255.0))
    expected = colour.delta_E(lab_a, lab_b, method=colour_method)
    assert mean_delta_e(a, b, method) == pytest.approx(float(np.mean(expected)), abs=1e-4)
    np.testing.assert_allclose(delta_e(lab_a, lab_b, method), expected, atol=1e-4)


def test_ciede2000_on_random_lab_including_greys_and_hue_wraps():
    rng = np.random.default_rng(1)
    lab1 = np.stack([rng.uniform(0, 100, 20000), rng.normal(0, 40, 20000), rng.normal(0, 40, 20000)], -1)
    lab2 = lab1 + rng.normal(0, 8, lab1.shape)
    lab1[:200, 1:] = 0.0  # achromatic reference
    lab2[100:300, 1:] = 0.0  # achromatic sample
    lab2[300:400, 1] = -lab1[300:400, 1]  # opposite hues (|Δh| near 180°)
    np.testing.assert_allclose(delta_e(lab1, lab2), colour.delta_E(lab1, lab2, method="CIE 2000"), atol=2e-4)


SHARMA = [  # Sharma, Wu & Dalal (2005), test pairs 1, 7, 17, 25 with their published ΔE00
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_ciede2000_published_test_data(lab1, lab2, expected):
    assert float(delta_e(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-3)


def test_identical_images_give_zero_and_cie94_is_asymmetric():
    a, b = _tiny_pair()
    for method in ("cie76", "cie94", "ciede2000"):
        assert mean_delta_e(a, a, method) == 0.0
    assert mean_delta_e(a, b, "cie94") != pytest.approx(mean_delta_e(b, a, "cie94"), abs=1e-6)
    assert mean_delta_e(a, b, "ciede2000") == pytest.approx(mean_delta_e(b, a, "ciede2000"), abs=1e-5)


def test_delta_e_bad_inputs():
    a, b = _tiny_pair()
    with pytest.raises(ValueError, match="unknown ΔE method"):
        mean_delta_e(a, b, "cie2020")
    with pytest.raises(ValueError, match="differ in shape"):
        mean_delta_e(a, b[:-1], "cie76")
    with pytest.raises(ValueError, match="uint8 or float"):
        mean_delta_e(a.astype(np.int32), b, "cie76")


# --- S-CIELAB -----------------------------------------------------------------------------------------------


def test_default_viewing_conditions():
    spd = ViewingConditions().samples_per_degree()
    assert spd == pytest.approx(2 * (60 / 2.54) * math.tan(math.radians(0.5)) * 109)
    assert 44 < spd < 46
    assert ViewingConditions(samples_per_degree_override=30.0).samples_per_degree() == 30.0
    with pytest.raises(ValueError, match="display_ppi"):
        ViewingConditions(display_ppi=0)


@pytest.mark.parametrize("spd", [5.0, 23.0, 44.94, 90.0])
def test_kernels_sum_to_one_with_a_luminance_surround(spd):
    kernels = scielab_kernels(spd)
    width = math.ceil(spd / 2) * 2 - 1
    assert kernels.shape == (3, width, width)
    np.testing.assert_allclose(kernels.sum(axis=(1, 2)), 1.0, atol=1e-9)
    # symmetric, peaked at the centre; the chromatic kernels are wider (blur more) than the luminance one
    for k in kernels:
        np.testing.assert_allclose(k, k.T)
        assert k.argmax() == k.size // 2
    assert kernels[1].max() < kernels[0].max() and kernels[2].max() < kernels[0].max()


def test_scielab_identical_images_is_zero_and_flat_fields_equal_ciede2000():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert mean_scielab(image, image, 44.94) == 0.0
    flat_a = np.full((30, 30, 3), (200, 120, 60), np.uint8)
    flat_b = np.full((30, 30, 3), (180, 130, 60), np.uint8)
    # a uniform field is unchanged by unit-sum kernels (mirror-padded borders included)
    assert mean_scielab(flat_a, flat_b, 44.94) == pytest.approx(
        mean_delta_e(flat_a, flat_b, "ciede2000"), rel=1e-4
    )
    xyz = srgb_to_xyz(flat_a)
    np.testing.assert_allclose(scielab_filter_xyz(xyz, 44.94), xyz, atol=1e-5)


def test_scielab_discounts_high_frequency_noise_but_not_a_colour_cast():
    from skimage import data

    reference = crop(data.coffee(), 96)
    rng = np.random.default_rng(0)
    noisy = np.clip(reference.astype(int) + rng.integers(-30, 31, reference.shape), 0, 255).astype(np.uint8)
    cast = white_balance_edit(reference, 2)
    spd = ViewingConditions().samples_per_degree()
    noise_scielab, noise_de00 = (
        mean_scielab(reference, noisy, spd),
        mean_delta_e(reference, noisy, "ciede2000"),
    )
    cast_scielab, cast_de00 = mean_scielab(reference, cast, spd), mean_delta_e(reference, cast, "ciede2000")
    assert noise_scielab < 0.5 * noise_de00  # pixel noise is mostly invisible at 45 pixels per degree
    # A global cast survives the blur. (It can even grow: blurring luminance and chroma with different kernels
    # decouples them in dark texture, where CIELAB is most sensitive — a property of S-CIELAB itself.)
    assert cast_scielab > 0.8 * cast_de00
    # seen from farther away (more pixels per degree), the noise fades further
    assert mean_scielab(reference, noisy, 2 * spd) < noise_scielab


def test_fft_filtering_equals_direct_convolution():
    from scipy import ndimage

    from cdreasoning.evaluate.scielab import _filter_planes

    planes = np.random.default_rng(0).random((2, 3, 37, 52)).astype(np.float32)
    kernels = scielab_kernels(20.0)
    filtered = _filter_planes(planes, 20.0)
    for n in range(2):
        for c in range(3):
            direct = ndimage.convolve(planes[n, c].astype(np.float64), kernels[c], mode="mirror")
            np.testing.assert_allclose(filtered[n, c], direct, atol=1e-5)


def test_scielab_on_images_smaller_than_the_kernel():
    a, b = _tiny_pair(size=6)
    value = mean_scielab(a, b, 44.94)  # kernel 45 px wide on a 6 px image: mirror padding repeats
    assert math.isfinite(value) and value > 0
