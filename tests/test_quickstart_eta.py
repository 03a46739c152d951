"""The quickstart's per-step ETA: expected times from the measured run, corrected by the measured speed."""

from __future__ import annotations

from pathlib import Path

from cdreasoning.quickstart import QuickstartConfig, build_steps
from cdreasoning.quickstart_eta import QuickstartEta, expected_seconds


def test_expected_times_scale_with_the_work():
    config = QuickstartConfig(out=Path("q"))
    assert expected_seconds("full", config) == 195.0  # the README's measured 900 steps
    assert expected_seconds("lora", config) == 62.0
    assert expected_seconds("cdflow-train", config) == 51.0
    doubled = QuickstartConfig(out=Path("q"), full_steps=1800, cdflow_epochs=4)
    assert expected_seconds("full", doubled) == 390.0
    assert expected_seconds("cdflow-train", doubled) == 102.0


def test_eta_is_rescaled_by_the_measured_speed():
    config = QuickstartConfig(out=Path("q"))
    steps = build_steps(config)
    eta = QuickstartEta(config, steps)
    by_name = {step.name: step for step in steps}
    total = sum(expected_seconds(step.name, config) for step in steps)
    assert eta.before(by_name["data"]) == f"~12 s expected, about {total / 60:.1f} min left in all"
    eta.after(by_name["data"], 24.0)  # the machine runs at half the measured speed
    assert eta.speed == 2.0
    assert eta.before(by_name["full"]).startswith("~390 s expected, about ")
    left = 2 * (total - 12.0)
    assert eta.before(by_name["full"]).endswith(f"{left / 60:.1f} min left in all")
