"""How long each quickstart step should take, and the time left: a per-step ETA that learns the machine's speed.

    eta = QuickstartEta(config, steps)
    eta.before(step)            # "~924 s expected, about 23.3 min left in all"
    eta.after(step, seconds)    # the measured time: later estimates are scaled by measured / expected

The expected times come from measured runs on 2 idle CPU cores (README, Benchmarks): the full stage 0.51 s per
step of 32 on its score ×3 + description file (score records alone ran at 0.29 s per step, 110 samples/s, and the
mixed file costs 1.77× as much per step, measured back to back), LoRA 114 s for 150 steps (measured while the
machine ran slower than usual: an upper bound), CD-Flow 202 s for
2 epochs of 90 pairs per scene, every evaluation ≤ 31 s; scaled by the step counts of the config. On a busy or
faster machine the ratio of measured to expected time of the steps done so far rescales what is left, so the
estimate corrects itself after the first long step.
"""

from __future__ import annotations

__all__ = ["QuickstartEta", "expected_seconds"]

# Measured on 2 idle CPU cores with the default config (README); per unit of work where the work scales.
_FULL_S_PER_STEP = 0.29 * 1.77  # batch 32 of the score ×3 + description file (see above)
_LORA_S_PER_STEP = 114 / 150  # batch 32 of the 1:1 score + description mix
_CDFLOW_S_PER_EPOCH = 202 / 2 / 3  # per epoch over 60 scenes × 30 pairs (measured with 90 pairs per scene)
_OTHER_S = 20.0  # data, init, merge, scoring, describing, baselines, CD-Flow test, leaderboard: each ≤ 31 s
_TRAIN_DATA_S = 2.0  # writing the full stage's training file
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
    if name == "train-data":
        return _TRAIN_DATA_S
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
