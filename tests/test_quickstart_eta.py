"""The quickstart's per-step ETA: expected times from the measured run, corrected by the measured speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdreasoning.quickstart import QuickstartConfig, build_steps
from cdreasoning.quickstart_eta import QuickstartEta, expected_seconds


def test_expected_times_scale_with_the_work():
    config = QuickstartConfig(out=Path("q"))
    # the README's measurements for the defaults: 1800 full steps × 0.29 s × 1.77, 150 LoRA steps 114 s,
    # CD-Flow 202 s
    assert expected_seconds("full", config) == pytest.approx(1800 * 0.29 * 1.77)
    assert expected_seconds("lora", config) == pytest.approx(114.0)
    assert expected_seconds("cdflow-train", config) == pytest.approx(202.0)
    doubled = QuickstartConfig(out=Path("q"), full_steps=3600, cdflow_epochs=4, pairs_per_scene=30)
    assert expected_seconds("full", doubled) == pytest.approx(2 * 1800 * 0.29 * 1.77)
    half_batch = QuickstartConfig(out=Path("q"), batch_size=16)
    assert expected_seconds("lora", half_batch) == pytest.approx(57.0)
    assert expected_seconds("cdflow-train", doubled) == pytest.approx(
        2 * 202.0 / 3
    )  # twice the epochs, a third of the pairs


def test_eta_is_rescaled_by_the_measured_speed():
    config = QuickstartConfig(out=Path("q"))
    steps = build_steps(config)
    eta = QuickstartEta(config, steps)
    by_name = {step.name: step for step in steps}
    total = sum(expected_seconds(step.name, config) for step in steps)
    assert eta.before(by_name["data"]) == f"~20 s expected, about {total / 60:.1f} min left in all"
    eta.after(by_name["data"], 40.0)  # 20 s of expected work done: too little to rescale by
    assert eta.speed == 1.0
    assert eta.before(by_name["full"]).startswith(f"~{1800 * 0.29 * 1.77:.0f} s expected, about ")
    full = 1800 * 0.29 * 1.77
    eta.after(by_name["full"], 2 * full)  # the machine runs at half the measured speed
    assert eta.speed == pytest.approx(2.0)
    assert eta.before(by_name["lora"]).startswith("~228 s expected, about ")
    left = 2 * (total - 20.0 - full)
    assert eta.before(by_name["lora"]).endswith(f"{left / 60:.1f} min left in all")
