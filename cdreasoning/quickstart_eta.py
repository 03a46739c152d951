"""How long each quickstart step should take, and the time left: a per-step ETA that learns the machine's speed.

    eta = QuickstartEta(config, steps)
    eta.before(step)            # "~393 s expected, about 10.0 min left in all"
    eta.after(step, seconds)    # the measured time: later estimates are scaled by measured / expected

The expected times come from the quickstart's measured run on 2 CPU cores (2026-12-03, 613 s in all; README,
Benchmarks; docs/training.md, "The quickstart's recipe"): the full stage 393 s for 1,800 steps of 32 on its score
×3 + description file in length-grouped batches, LoRA 44 s for 150 steps on the 1:1 mix, CD-Flow 92 s for 2
epochs of 90 pairs per scene in bf16 (where the CPU has hardware bf16; 202 s in fp32), the evaluations as listed
below; scaled by the step counts of the config. On a busy or slower machine the ratio of measured to expected
time of the steps done so far rescales what is left, so the estimate corrects itself after the first long step.
"""

from __future__ import annotations

__all__ = ["QuickstartEta", "expected_seconds"]

# Measured with the default config (README); per unit of work where the work scales.
_FULL_S_PER_STEP = 393 / 1800  # batch 32 of the score ×3 + description file, length-grouped batches
_LORA_S_PER_STEP = 44 / 150  # batch 32 of the 1:1 score + description mix, length-grouped batches
# Per epoch over 60 scenes × 30 pairs (measured with 90 pairs per scene): bf16 + NHWC where the CPU has hardware
# bf16 (the quickstart then asks for it), fp32 elsewhere.
_CDFLOW_S_PER_EPOCH = {"bf16": 92 / 2 / 3, "fp32": 202 / 2 / 3}
# Steps whose time does not follow a config setting (measured; 1,080 test pairs where they score or describe).
_FIXED_S = {"describe": 22.0, "score-full": 13.0, "score-lora-merged": 13.0, "cdflow-test": 13.0}
_OTHER_S = 5.0  # data, init, merge, baselines, leaderboard, and any other step: each about this or less
# Below this much expected work done, the measured/expected ratio says more about rounding in the few-second
# estimates than about the machine, so the estimates are not rescaled yet.
_MIN_EXPECTED_FOR_SPEED_S = 60.0


def expected_seconds(name: str, config) -> float:
    """The expected time of the step `name` for `config` (a QuickstartConfig) on 2 idle cores."""
    batch_scale = config.batch_size / 32
    if name == "full":
        return _FULL_S_PER_STEP * config.full_steps * batch_scale
    if name == "lora":
        return _LORA_S_PER_STEP * config.lora_steps * batch_scale
    if name == "cdflow-train":
        from cdreasoning.runtime import cpu_has_fast_bf16

        pairs = (config.scenes / 60) * (config.pairs_per_scene / 30)
        per_epoch = _CDFLOW_S_PER_EPOCH["bf16" if cpu_has_fast_bf16() else "fp32"]
        return per_epoch * config.cdflow_epochs * pairs * (config.cdflow_size / 64) ** 2
    return _FIXED_S.get(name, _OTHER_S)


class QuickstartEta:
    """Per-step expected time and the time left, corrected by the measured speed of the steps done."""

    def __init__(self, config, steps) -> None:
        self.expected = {step.name: expected_seconds(step.name, config) for step in steps}
        self.pending = [step.name for step in steps]
        self.measured_s = 0.0
        self.expected_done_s = 0.0

    @property
    def speed(self) -> float:
        """measured / expected over the steps run so far (1 until a minute of expected work is done)."""
        if self.expected_done_s < _MIN_EXPECTED_FOR_SPEED_S:
            return 1.0
        return self.measured_s / self.expected_done_s

    def before(self, step) -> str:
        left = sum(self.expected[name] for name in self.pending) * self.speed
        return f"~{self.expected[step.name] * self.speed:.0f} s expected, about {_minutes(left)} left in all"

    def skipped(self, step) -> None:
        self.pending.remove(step.name)

    def after(self, step, seconds: float) -> None:
        self.pending.remove(step.name)
        self.measured_s += seconds
        self.expected_done_s += self.expected[step.name]


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
