"""ISP renderer, framing and the perceptual ΔV proxy of the synthetic set."""

import itertools
import random

import numpy as np
import pytest

from cdreasoning.data.synth.geometry import Framing, canvas_size, frame, random_framing
from cdreasoning.data.synth.isp import (
    SEVERITY_THRESHOLDS,
    IspParams,
    attribute_magnitudes,
    render,
    severities_from_magnitudes,
    tone_curve,
)
from cdreasoning.data.synth.proxy import DV_MIN, proxy_delta_v
from cdreasoning.data.synth.sources import SOURCES, load_source, make_scene


@pytest.fixture(scope="module")
def scene():
    return make_scene("coffee", random.Random(0), 64)


def test_every_bundled_photo_loads_offline():
    for name in SOURCES:
        photo = load_source(name)
        assert (
            photo.dtype == np.uint8
            and photo.ndim == 3
            and photo.shape[2] == 3
            and min(photo.shape[:2]) >= 256
        )
    assert load_source("coffee") is load_source("coffee")  # cached: loaded once


def test_neutral_look_is_identity_and_each_parameter_changes_the_image(scene):
    assert np.abs(render(scene, IspParams()) - scene).max() < 1e-5
    for name in IspParams.__dataclass_fields__:
        changed = render(scene, IspParams(**{name: 0.1 if name != "hue" else 8.0}))
        assert np.abs(changed - scene).mean() > 2e-3, name


def test_tone_curves_are_monotone_within_limits():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    for look in (
        IspParams(contrast=0.42),
        IspParams(contrast=-0.8),
        IspParams(shadows=0.22),
        IspParams(shadows=-0.3),
        IspParams(highlights=0.22),
        IspParams(highlights=-0.3),
    ):
        assert np.all(np.diff(tone_curve(x, look)) >= -1e-7), look


def test_white_balance_keeps_grey_luminance():
    grey = np.full((4, 4, 3), 0.5, np.float32)
    warm = render(grey, IspParams(wb_temp=0.3))
    assert warm[0, 0, 0] > warm[0, 0, 1] > warm[0, 0, 2]  # red up, blue down
    lin = np.where(warm <= 0.04045, warm / 12.92, ((warm + 0.055) / 1.055) ** 2.4)
    luminance = lin[0, 0] @ np.array([0.2126, 0.7152, 0.0722])
    assert luminance == pytest.approx(((0.5 + 0.055) / 1.055) ** 2.4, rel=1e-4)


def test_severities_follow_thresholds():
    low, high = SEVERITY_THRESHOLDS["overall_brightness"]
    for stops, expected in ((0.0, "slight"), (low * 0.99, "slight"), (low, "moderate"), (high, "severe")):
        severities = severities_from_magnitudes(attribute_magnitudes(IspParams(exposure=stops)))
        assert severities["overall_brightness"] == expected
        assert {a: s for a, s in severities.items() if a != "overall_brightness"} == dict.fromkeys(
            SEVERITY_THRESHOLDS.keys() - {"overall_brightness"}, "slight"
        )
    wb = attribute_magnitudes(IspParams(wb_temp=0.3, wb_tint=-0.4) - IspParams(wb_temp=0.3))
    assert wb["white_balance"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "name, steps",
    [
        ("wb_temp", [0.05, 0.1, 0.2, 0.3]),
        ("wb_tint", [0.05, 0.1, 0.2]),
        ("contrast", [0.05, 0.1, 0.2, 0.4]),
        ("saturation", [0.1, 0.2, 0.4, 0.6]),
        ("exposure", [0.1, 0.3, 0.6, 1.0]),
        ("hue", [3.0, 6.0, 12.0, 20.0]),
        ("shadows", [0.03, 0.06, 0.12, 0.2]),
        ("highlights", [0.03, 0.06, 0.12, 0.2]),
    ],
)
def test_proxy_grows_with_edit_strength(scene, name, steps):
    base = render(scene, IspParams())
    for sign in (1.0, -1.0):
        values = [proxy_delta_v(base, render(scene, IspParams(**{name: sign * k}))) for k in steps]
        assert all(b > a for a, b in itertools.pairwise(values)), (name, sign, values)
        assert values[0] > DV_MIN


def test_proxy_range_noise_and_symmetry(scene):
    base = render(scene, IspParams())
    assert proxy_delta_v(base, base) == DV_MIN  # identical images: the floor of SPCD's scale
    strong = render(scene, IspParams(exposure=1.5, saturation=0.9, hue=35))
    assert 8 < proxy_delta_v(base, strong) <= 16.5
    edited = render(scene, IspParams(wb_temp=0.2))
    assert proxy_delta_v(base, edited) == pytest.approx(proxy_delta_v(edited, base))
    assert proxy_delta_v(base, edited, 1.0) == pytest.approx(proxy_delta_v(base, edited) * np.exp(0.1))


def test_framing_identity_is_centre_crop_and_shift_moves_content():
    size = 32
    side = canvas_size(size)
    canvas = np.random.default_rng(0).random((side, side, 3)).astype(np.float32)
    offset = (side - size) // 2
    np.testing.assert_array_equal(
        frame(canvas, Framing(), size), canvas[offset : offset + size, offset : offset + size]
    )
    shifted = frame(canvas, Framing(dx=2.0, dy=-1.0, degrees=0.0, scale=1.0), size)
    np.testing.assert_allclose(
        shifted, canvas[offset - 1 : offset - 1 + size, offset + 2 : offset + 2 + size], atol=1e-6
    )


@pytest.mark.parametrize("size", [64, 256])
def test_strongest_framings_stay_inside_the_canvas(size):
    """A canvas that is 1 inside and 0 on its outer pixel ring: any sample near the edge would show up < 1."""
    side = canvas_size(size)
    canvas = np.zeros((side, side, 3), np.float32)
    canvas[1:-1, 1:-1] = 1.0
    for dx in (-1, 1):
        for degrees in (-2.0, 2.0):
            for scale in (0.97, 1.03):
                view = frame(canvas, Framing(dx * 0.025 * size, -dx * 0.025 * size, degrees, scale), size)
                assert view.min() == 1.0, (dx, degrees, scale)
    rng = random.Random(1)
    for _ in range(50):
        f = random_framing(rng, size)
        assert abs(f.dx) <= 0.025 * size and abs(f.degrees) <= 2 and abs(f.scale - 1) <= 0.03
