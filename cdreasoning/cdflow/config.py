"""The architecture of a CD-Flow model: a typed, validated config saved beside the weights, and its presets.

    from cdreasoning.cdflow import CDFlowConfig, preset_config
    CDFlowConfig()                       # the paper's flow: 6 scales × 8 steps, coupling width 512 (60.49 M)
    preset_config("small")               # a CPU-sized flow for quick runs on the synthetic set

Only what changes the network lives here (run settings such as the learning rate are `cdflow train` flags).
Every checkpoint stores `CDFlowConfig.to_dict()`, so `cdflow test` and `CDFlowMetric.from_checkpoint` rebuild
the model without flags.

Presets (exact parameter counts, as `cdreasoning.cdflow.count_parameters` gives them; tested):

| preset | scales | steps | width | parameters | intended use |
|---|---|---|---|---|---|
| paper | 6 | 8 | 512 | 60,488,496 | SPCD at 768 px (train) / 1024 px (test), needs a GPU |
| small | 3 | 4 | 32 | 229,056 | CPU runs on the synthetic set at 64 px (quickstart) |
| tiny | 2 | 2 | 8 | 22,472 | unit tests (sides divisible by 4) |
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["PRESETS", "CDFlowConfig", "preset_config"]

IN_CHANNELS = 3  # sRGB


@dataclass(frozen=True)
class CDFlowConfig:
    """The multi-scale Glow-style flow of CD-Flow (Wang et al., CVPR 2023)."""

    scales: int = field(
        default=6,
        metadata={
            "help": "scales K: each squeezes 2×2, runs `steps` flow steps, then (all but the last) splits half "
            "of its channels off as a latent; image sides must be divisible by 2**scales"
        },
    )
    steps: int = field(
        default=8,
        metadata={"help": "flow steps L per scale (ActNorm → invertible 1×1 conv → affine coupling)"},
    )
    width: int = field(default=512, metadata={"help": "hidden channels of every affine-coupling network"})

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CDFlowConfig.{f.name} must be a positive integer, got {value!r}")
        if self.scales > 12:
            raise ValueError(
                f"CDFlowConfig.scales={self.scales} needs images of at least {2**self.scales} px"
            )

    @property
    def multiple(self) -> int:
        """Image height and width must be multiples of this (2**scales)."""
        return 2**self.scales

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CDFlowConfig:
        """The config back from `to_dict()`; unknown keys are an error (they would be silently ignored)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown CDFlowConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


PRESETS: dict[str, CDFlowConfig] = {
    "paper": CDFlowConfig(scales=6, steps=8, width=512),
    "small": CDFlowConfig(scales=3, steps=4, width=32),
    "tiny": CDFlowConfig(scales=2, steps=2, width=8),
}


def preset_config(name: str, **overrides: int) -> CDFlowConfig:
    """The config of a preset, with fields overridden (None values are ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown CD-Flow preset {name!r}; choose one of {', '.join(PRESETS)}")
    values = PRESETS[name].to_dict()
    values.update({k: v for k, v in overrides.items() if v is not None})
    return CDFlowConfig(**values)
