"""How long each quickstart step should take, and the time left: a per-step ETA that learns the machine's speed.

    eta = QuickstartEta(config, steps)
    eta.before(step)            # "~270 s expected, about 11.1 min left in all"
    eta.after(step, seconds)    # the measured time: later estimates are scaled by measured / expected

The expected times are the quickstart's measured run on 2 idle CPU cores (README: full fine-tuning 270 s for
900 steps, LoRA 97 s for 300 steps, CD-Flow 202 s for 2 epochs of 90 pairs per scene, every evaluation ≤ 31 s), scaled by the step
counts of the config. On a busy or faster machine the ratio of measured to expected time of the steps done so
far rescales what is left, so the estimate corrects itself after the first long step.
"""

from __future__ import annotations

__all__ = ["QuickstartEta", "expected_seconds"]

# Measured on 2 idle CPU cores with the default config (README); per unit of work where the work scales.
_FULL_S_PER_STEP = 270 / 900
_LORA_S_PER_STEP = 97 / 300
_CDFLOW_S_PER_EPOCH = 202 / 2 / 3  # per epoch over 60 scenes × 30 pairs (measured with 90 pairs per scene)
_OTHER_S = 20.0  # data, init, merge, scoring, describing, baselines, CD-Flow test, leaderboard: each ≤ 31 s


def expected_seconds(name: str, config) -> float:
    """The expected time of the step `name` for `config` (a QuickstartConfig) on 2 idle cores."""
    batch_scale = config.batch_size / 16
    if name == "full":
        return _FULL_S_PER_STEP * config.full_steps * batch_scale
    if name == "lora":
        return _LORA_S_PER_STEP * config.lora_steps * batch_scale
    if name == "cdflow-train":
        pairs = (config.scenes / 60) * (config.pairs_per_scene / 30)
        return _CDFLOW_S_PER_EPOCH * config.cdflow_epochs * pairs * (config.cdflow_size / 64) ** 2
    return _OTHER_S


class QuickstartEta:
    """Per-step expected time and the time left, corrected by the measured speed of the steps done."""

    def __init__(self, config, steps) -> None:
        self.expected = {step.name: expected_seconds(step.name, config) for step in steps}
        self.pending = [step.name for step in steps]
        self.measured_s = 0.0
        self.expected_done_s = 0.0

    @property
    def speed(self) -> float:
        """measured / expected over the steps run so far (1 before any)."""
        return self.measured_s / self.expected_done_s if self.expected_done_s > 0 else 1.0

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
