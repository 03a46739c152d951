"""The CD-Flow training loss: weighted full + partial distance MSE against the human ΔV, plus both images' NLL.

    from cdreasoning.cdflow.loss import cdflow_loss
    out = model(torch.cat([x, y]))                   # one forward for both images of the batch
    terms = cdflow_loss(out, delta_v)                # LossTerms; terms.total is what is minimised

With ΔE_k the partial distances over scales k..K (ΔE_1 = the full distance, `flow.latent_distances`):

    loss = 10 · (10 · MSE(ΔE_1, ΔV) + Σ_{k=2..K} MSE(ΔE_k, ΔV)) + NLL(x) + NLL(y)

NLL in bits per dimension with n_bins = 32 (as the original, after Glow / rosinality's glow-pytorch):
NLL = −(log p(z) + log|det| − D·log n_bins) / (D·log 2), D = 3HW, averaged over the batch. n_bins only shifts
the value by a constant (log2 n_bins); it does not change the gradient. The original used D for 768 px whatever
the image size; here D is the size of the images actually fed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from cdreasoning.cdflow.flow import FlowOutput, latent_distances

__all__ = ["LossTerms", "cdflow_loss", "nll_bits_per_dim"]

FULL_DISTANCE_WEIGHT = 10.0  # ΔE_1 counts 10× each partial distance
DISTANCE_WEIGHT = 10.0  # the distance terms count 10× the NLL
N_BINS = 32
DISTANCE_EPS = 1e-8  # inside the square root: a finite gradient for identical images (as the original)


@dataclass
class LossTerms:
    """total: the scalar minimised; the rest detached, for logging. delta_e: ΔE_1 per pair [b]."""

    total: torch.Tensor
    distance_mse: torch.Tensor
    nll_x: torch.Tensor
    nll_y: torch.Tensor
    delta_e: torch.Tensor


def nll_bits_per_dim(log_prob: torch.Tensor, n_dims: int, n_bins: float = N_BINS) -> torch.Tensor:
    """[b] log-densities (nats) → [b] negative log-likelihood in bits per dimension."""
    return -(log_prob - n_dims * math.log(n_bins)) / (n_dims * math.log(2.0))


def cdflow_loss(
    out: FlowOutput,
    delta_v: torch.Tensor,
    *,
    full_weight: float = FULL_DISTANCE_WEIGHT,
    distance_weight: float = DISTANCE_WEIGHT,
    n_bins: float = N_BINS,
) -> LossTerms:
    """The loss of a batch whose first b images are the x's and last b the y's of b pairs.

    out: `CDFlow.forward` of torch.cat([x, y]) (2b images); delta_v: [b] human ΔV.
    """
    b = delta_v.shape[0]
    if out.log_p.shape[0] != 2 * b:
        raise ValueError(f"expected 2·{b} images (x then y) for {b} ΔV values, got {out.log_p.shape[0]}")
    # ΔV in the latents' dtype (float32: the flow keeps its latents out of autocast).
    delta_v = delta_v.to(out.log_p.dtype)
    partial = latent_distances([z[:b] for z in out.latents], [z[b:] for z in out.latents], eps=DISTANCE_EPS)
    # [b, K] distances against ΔV broadcast over the K scales → one MSE per scale.
    mse = ((partial - delta_v[:, None]) ** 2).mean(dim=0)  # [K]
    distance_mse = full_weight * mse[0] + mse[1:].sum()
    # D = 3·H·W: the latents of all scales together have as many entries as one image.
    n_dims = sum(z[0].numel() for z in out.latents)
    nll = nll_bits_per_dim(out.log_prob, n_dims, n_bins)
    # x and y each contribute one NLL term, each a mean over its b images, as the original.
    nll_x, nll_y = nll[:b].mean(), nll[b:].mean()
    total = distance_weight * distance_mse + nll_x + nll_y
    return LossTerms(total, distance_mse.detach(), nll_x.detach(), nll_y.detach(), partial[:, 0].detach())
