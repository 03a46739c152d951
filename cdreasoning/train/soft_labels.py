"""Soft labels for score records: the target is a distribution over the five level words, not one hard word.

    from cdreasoning.train.soft_labels import soft_level_target, level_distribution_loss
    target = soft_level_target(delta_v=4.59)                 # [5] numpy, sums to 1, expectation = G(ΔV)
    loss, parts = level_distribution_loss(logits_at_answer, level_ids, targets)   # torch

Why: with hard labels a pair at G = 2.49 and one at G = 1.51 both learn "slight"/"moderate" by floor(G), and the
Q-Align score Σ p_i·w_i is never taught the position *inside* a level. DeQA-Score (CVPR 2025, an mPLUG-Owl2
scorer) trains on a distribution over the level words instead; this module is our version of its recipe.

**Target** (`soft_level_target`). The record's human ΔV gives the grade G = ln((ΔV + 1.2943)/1.6036)/0.5391
(`cdreasoning.scale.grade_from_delta_v`), clipped to the weight range [w_0, w_4] = [0, 5]. The level weights
are w = (0, 1.25, 2.5, 3.75, 5) for (negligible, slight, moderate, significant, severe), the scale the score
lives on.

- default (std None or 0): the two adjacent levels k, k+1 with w_k ≤ G ≤ w_{k+1}, weighted so that the
  expectation is exactly G: p_{k+1} = (G − w_k)/(w_{k+1} − w_k), p_k = 1 − p_{k+1}. This is what DeQA-Score
  does when a dataset gives a mean and no spread (SPCD gives one ΔV per pair).
- `std` > 0 (grade units, `--soft-label-std`): a Gaussian N(G, std²) integrated over each level's bin (bin
  edges halfway between weights, the outer bins open), then the affine correction p' = α·p + β that keeps
  Σp' = 1 and makes Σp'·w = G exactly (DeQA-Score's "adjust_gaussian_bar"); when that would make a probability
  negative (a narrow Gaussian near the ends), the two-level target is used instead, as DeQA-Score does.

Note the argmax of a soft target is not always floor(G): G = 1.9 gives p(moderate) = 0.52 > p(slight) = 0.48
because the weights sit at k·1.25, not at the level bins' centres. The expectation is what is trained.

**Loss** (`level_distribution_loss`), at the position that predicts the level word's first sub-token:

    KL(t ‖ p_V restricted to the level ids) = KL(t ‖ softmax over the 5 level logits) − log Σ_{i∈levels} p_V(i)

where p_V is the softmax over the whole vocabulary. The first term is the KL on the five-level softmax that the
scorer reads; the second keeps the probability mass on the level words, so that generation still answers with a
level word. The sum is DeQA-Score's KL (full-vocabulary softmax, zero target elsewhere), and with a one-hot
target it equals the usual cross-entropy of that position, so `--score-loss soft` with std 0 on a pair exactly at
a level weight trains exactly like `ce`. The other answer tokens keep their cross-entropy (the dataset sets the
level position's label to IGNORE_INDEX, and `CDTrainer` adds `--score-loss-weight` × this loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cdreasoning.constants import LEVEL_WEIGHTS
from cdreasoning.scale import grade_from_delta_v

SCORE_LOSSES = ("ce", "soft")


@dataclass(frozen=True)
class SoftLabelConfig:
    """How score records are supervised at the level word.

    std: Gaussian std in grade units (None or 0: two adjacent levels). weights: the level weights in level
    order (ascending), the scale the grade G is compared on.
    """

    std: float | None = None
    weights: tuple[float, ...] = LEVEL_WEIGHTS

    def __post_init__(self):
        if self.std is not None and (not math.isfinite(self.std) or self.std < 0):
            raise ValueError(f"--soft-label-std must be ≥ 0, got {self.std}")
        w = np.asarray(self.weights, dtype=np.float64)
        if w.ndim != 1 or len(w) < 2 or not np.all(np.diff(w) > 0):
            raise ValueError(f"level weights must be ≥ 2 strictly increasing numbers, got {self.weights}")


def clipped_grade(delta_v: float, weights=LEVEL_WEIGHTS) -> float:
    """G(ΔV) clipped to [weights[0], weights[-1]]."""
    # Clipped: ΔV beyond the scale's ends (G < 0 for tiny ΔV, G > 5 for huge ones) maps to the end levels.
    return float(np.clip(grade_from_delta_v(delta_v), weights[0], weights[-1]))


def two_level_target(grade: float, weights=LEVEL_WEIGHTS) -> np.ndarray:
    """[n] distribution on the two adjacent levels around `grade` whose expectation is `grade` (clipped)."""
    w = np.asarray(weights, dtype=np.float64)
    g = float(np.clip(grade, w[0], w[-1]))
    target = np.zeros(len(w))
    upper = int(np.searchsorted(w, g, side="right"))  # first weight > g
    if upper >= len(w):  # g == w[-1]
        target[-1] = 1.0
        return target
    lower = upper - 1
    # Linear interpolation between the two weights: (1 − s)·w_k + s·w_{k+1} = G, the required expectation.
    share = (g - w[lower]) / (w[upper] - w[lower])
    target[lower], target[upper] = 1.0 - share, share
    return target


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    # numpy has no erf; math.erf per value is plenty for a handful of bin edges.
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def gaussian_target(grade: float, std: float, weights=LEVEL_WEIGHTS) -> np.ndarray:
    """[n] discretised N(grade, std²) over the level bins, corrected to expectation `grade` (see module doc)."""
    w = np.asarray(weights, dtype=np.float64)
    g = float(np.clip(grade, w[0], w[-1]))
    if std is None or std <= 0:
        return two_level_target(g, w)
    # Bin edges halfway between adjacent weights; the outer bins reach ±∞, so no mass is lost.
    edges = np.concatenate([[-np.inf], (w[:-1] + w[1:]) / 2, [np.inf]])
    cdf = _normal_cdf((edges - g) / std)
    p = np.diff(cdf)
    # The bins already cover ℝ: this renormalisation only removes rounding.
    p = p / p.sum()
    # Affine p' = α·p + β with Σp' = 1 ⇒ β = (1 − α)/n; then Σp'·w = α·μ + (1 − α)·mean(w) = G gives α.
    mean_w = w.mean()
    mu = float(p @ w)
    # μ = mean(w) only for G = mean(w) (a symmetric Gaussian mid-scale): p already has expectation G.
    if abs(mu - mean_w) < 1e-12:
        alpha = 1.0
    else:
        alpha = (g - mean_w) / (mu - mean_w)
    beta = (1.0 - alpha) / len(w)
    corrected = alpha * p + beta
    # A negative probability (narrow Gaussian near an end)
    # means no affine fix exists: fall back, as DeQA-Score.
    if np.any(corrected < -1e-12) or not np.all(np.isfinite(corrected)):
        return two_level_target(g, w)
    # Clip the −1e-12 rounding; renormalising moves the expectation by no more than that.
    corrected = np.clip(corrected, 0.0, None)
    return corrected / corrected.sum()


def soft_level_target(delta_v: float, config: SoftLabelConfig | None = None) -> np.ndarray:
    """The [n] target distribution over the levels for a pair of human `delta_v`."""
    config = config or SoftLabelConfig()
    grade = clipped_grade(delta_v, config.weights)
    if config.std:
        return gaussian_target(grade, config.std, config.weights)
    return two_level_target(grade, config.weights)


def level_distribution_loss(logits, level_ids, targets):
    """Soft-label loss at the level position.

    logits [b, V]: the logits that predict the level word's first sub-token (any dtype; computed in float32).
    level_ids [n]: vocabulary ids of the levels' first sub-tokens, in level order. targets [b, n]: rows sum to 1.
    Returns (loss, parts): loss = mean over rows of KL(t ‖ p_V at the level ids) (a 0-dim tensor), parts =
    {"kl_levels": mean KL on the five-level softmax, "out_of_levels": mean −log(mass on the level ids)} as
    floats for logging; loss = kl_levels + out_of_levels.
    """
    import torch

    # Full-vocabulary log-softmax: the loss includes the mass outside the level words (see the module doc).
    logp = torch.log_softmax(logits.float(), dim=-1)
    ids = torch.as_tensor(level_ids, device=logp.device, dtype=torch.long)
    level_logp = logp[:, ids]  # [b, n]
    t = targets.to(level_logp.device, torch.float32)
    # log Σ p_V over the level ids: the mass on the level words, the second term of the loss.
    log_mass = torch.logsumexp(level_logp, dim=-1)  # [b]
    # Σ t·log t with 0·log 0 = 0; the clamp keeps log(0) = −inf out of the graph, even in the unused branch.
    entropy_term = torch.where(t > 0, t * torch.log(t.clamp_min(1e-30)), torch.zeros_like(t)).sum(-1)
    full = entropy_term - (t * level_logp).sum(-1)  # KL(t ‖ p_V restricted), [b]
    loss = full.mean()
    with torch.no_grad():
        # Logged only: the KL on the level-renormalised softmax
        # (level_logp − log_mass), what the scorer reads.
        kl_levels = (entropy_term - (t * (level_logp - log_mass[:, None])).sum(-1)).mean()
    parts = {"kl_levels": float(kl_levels), "out_of_levels": float(-log_mass.mean().detach())}
    return loss, parts


def expanded_positions(input_ids, positions, image_tokens: int):
    """Positions in the image-expanded sequence (as `cdreasoning.model.merge.merge_images` lays out a
    right-padded batch: each IMAGE_TOKEN_INDEX becomes `image_tokens` positions).

    input_ids [b, t], positions [b] (index into each row, ≥ 0) → [b] long.
    """
    import torch

    from cdreasoning.constants import IMAGE_TOKEN_INDEX

    # The sentinels before each position: each one adds image_tokens − 1 positions in front of it.
    columns = torch.arange(input_ids.shape[1], device=input_ids.device)[None, :]
    before = ((input_ids == IMAGE_TOKEN_INDEX) & (columns < positions[:, None])).sum(-1)
    return positions + before * (image_tokens - 1)
