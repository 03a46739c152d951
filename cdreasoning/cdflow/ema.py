"""Exponential moving average of a model's parameters (CD-Flow validates and ships the EMA weights).

    ema = EMA(model, decay=0.999)       # take the copy AFTER model.data_init(...): see below
    ema.update(model)                   # after every optimizer step
    with ema.applied(model):            # the model holds the averaged weights inside the block
        validate(model)
    torch.save(ema.state_dict(), ...);  ema.load_state_dict(...)

shadow ← d·shadow + (1 − d)·param with d = decay, or with `warmup` d = min(decay, (1 + n)/(10 + n)) after
n updates (the num_updates rule of TensorFlow's ExponentialMovingAverage): short runs then average their
recent weights instead of staying near the initialisation (with d = 0.999 the initial weights still count
82 % after 200 steps); beyond ~10,000 updates both rules are the same.

The original took the copy before the first forward pass, i.e. before ActNorm's data-dependent
initialisation: its averaged ActNorm parameters started from loc = 0, scale = 1. Taking it after
`CDFlow.data_init` fixes that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Averages of the floating-point trainable parameters of `model` (buffers are not averaged)."""

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        # Trainable parameters only: frozen ones never change, and buffers (ActNorm's flag) are not averaged.
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        # (1 + n)/(10 + n): 0.1 at the first update, rising towards 1; capped by decay.
        return min(self.decay, (1.0 + self.num_updates) / (10.0 + self.num_updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.num_updates += 1
        weight = 1.0 - self.current_decay()
        for name, p in model.named_parameters():
            if name in self.shadow:
                # lerp_(p, 1 − d): shadow + (1 − d)(p − shadow) = d·shadow + (1 − d)·p, in place.
                self.shadow[name].lerp_(p.detach(), weight)

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Swap the averaged weights into `model` for the block; the trained weights come back afterwards."""
        params = dict(model.named_parameters())
        # Cloned: the copies below write into the same parameter storage.
        backup = {name: params[name].detach().clone() for name in self.shadow}
        try:
            with torch.no_grad():
                for name, value in self.shadow.items():
                    # copy_ into the existing tensors: the optimizer holds references to these parameters.
                    params[name].copy_(value)
            yield model
        finally:
            with torch.no_grad():
                for name, value in backup.items():
                    params[name].copy_(value)

    def model_state_dict(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """`model.state_dict()` with the averaged parameters in place of the trained ones (for best.pt)."""
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        # Buffers (ActNorm's initialised flag) come from the live model; only parameters are averaged.
        state.update({name: value.clone() for name, value in self.shadow.items()})
        return state

    def state_dict(self) -> dict:
        return {
            "decay": self.decay,
            "warmup": self.warmup,
            "num_updates": self.num_updates,
            "shadow": {k: v.clone() for k, v in self.shadow.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.shadow) - set(state["shadow"])
        unexpected = set(state["shadow"]) - set(self.shadow)
        if missing or unexpected:
            raise ValueError(
                f"EMA state does not match the model (missing {sorted(missing)[:3]}, unexpected "
                f"{sorted(unexpected)[:3]})"
            )
        self.decay = float(state["decay"])
        self.warmup = bool(state["warmup"])
        self.num_updates = int(state["num_updates"])
        for name, value in state["shadow"].items():
            # copy_ keeps each shadow tensor's device and dtype, wherever the saved state was loaded.
            self.shadow[name].copy_(value)
