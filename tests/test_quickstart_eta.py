"""The quickstart's per-step ETA: expected times from the measured run, corrected by the measured speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdreasoning.quickstart import QuickstartConfig, build_steps
from cdreasoning.quickstart_eta import QuickstartEta, expected_seconds

# The README's measured run with the defaults: full stage 393 s (1,800 steps), LoRA 44 s (150 steps), CD-Flow
# 92 s in bf16 (202 s in fp32), describing 22 s, each scoring 13 s, the CD-Flow test 13 s, the rest ≤ 5 s.
FULL, LORA, CDFLOW_BF16, CDFLOW_FP32 = 393.0, 44.0, 92.0, 202.0


@pytest.fixture(params=[True, False], ids=["hardware-bf16", "no-bf16"])
def bf16(request, monkeypatch):
    monkeypatch.setattr("cdreasoning.runtime.cpu_has_fast_bf16", lambda: request.param)
    return request.param


def test_expected_times_scale_with_the_work(bf16):
    config = QuickstartConfig(out=Path("q"))
    cdflow = CDFLOW_BF16 if bf16 else CDFLOW_FP32
    assert expected_seconds("full", config) == pytest.approx(FULL)
    assert expected_seconds("lora", config) == pytest.approx(LORA)
    assert expected_seconds("cdflow-train", config) == pytest.approx(cdflow)
    assert expected_seconds("describe", config) == pytest.approx(22.0)
    assert expected_seconds("ciede2000", config) == pytest.approx(5.0)
    doubled = QuickstartConfig(out=Path("q"), full_steps=3600, cdflow_epochs=4, pairs_per_scene=30)
    assert expected_seconds("full", doubled) == pytest.approx(2 * FULL)
    half_batch = QuickstartConfig(out=Path("q"), batch_size=16)
    assert expected_seconds("lora", half_batch) == pytest.approx(LORA / 2)
    # twice the epochs, a third of the pairs
    assert expected_seconds("cdflow-train", doubled) == pytest.approx(2 * cdflow / 3)


def test_the_default_quickstart_is_expected_within_15_minutes(bf16):
    config = QuickstartConfig(out=Path("q"))
    total = sum(expected_seconds(step.name, config) for step in build_steps(config))
    # 5 s each for data, train-data, init, merge, the two baselines and the leaderboard
    expected = FULL + LORA + (CDFLOW_BF16 if bf16 else CDFLOW_FP32) + 22 + 13 + 13 + 13 + 7 * 5
    assert total == pytest.approx(expected)
    assert total < 15 * 60


def test_eta_is_rescaled_by_the_measured_speed(bf16):
    config = QuickstartConfig(out=Path("q"))
    steps = build_steps(config)
    eta = QuickstartEta(config, steps)
    by_name = {step.name: step for step in steps}
    total = sum(expected_seconds(step.name, config) for step in steps)
    assert eta.before(by_name["data"]) == f"~5 s expected, about {total / 60:.1f} min left in all"
    eta.after(by_name["data"], 40.0)  # 5 s of expected work done: too little to rescale by
    assert eta.speed == 1.0
    assert eta.before(by_name["full"]).startswith(f"~{FULL:.0f} s expected, about ")
    eta.after(by_name["full"], 2 * FULL)  # the machine runs at half the measured speed
    assert eta.speed == pytest.approx((40.0 + 2 * FULL) / (5.0 + FULL))
    speed = eta.speed
    assert eta.before(by_name["lora"]).startswith(f"~{LORA * speed:.0f} s expected, about ")
    left = speed * (total - 5.0 - FULL)
    assert eta.before(by_name["lora"]).endswith(f"{left / 60:.1f} min left in all")
