"""One image pair through everything the project measures, for the demo page (no Gradio here).

    analyzer = PairAnalyzer(CDScorer.from_pretrained("runs/quickstart/models/lora-merged", device="cpu"))
    result = analyzer.analyse("a.png", "b.png", progress=lambda fraction, what: None)
    result.score.score, result.score.level, result.score.probabilities     # the model, as `cdreasoning score`
    result.description.text, result.description.severities                 # as `cdreasoning describe`
    result.ciede2000, result.scielab, result.cdflow                        # as `cdreasoning eval baseline`
    result.delta_e_map                                                     # (H, W) ΔE00 per pixel, or None
    result.to_dict()                                                       # the numbers, JSON-ready

Nothing is recomputed here: the model numbers are `CDScorer.score` and `CDScorer.describe` (with the
severities of `parse_severities`), the baselines are the functions of `eval baseline` on the pixels of
`load_pair` with `BaselineConfig`'s defaults (longer side ≤ 1024 px, the default viewing conditions for
S-CIELAB), and CD-Flow is `CDFlowMetric`, so the page shows the numbers the command line gives for the same
files.

The ΔE00 map is the per-pixel CIEDE2000 whose mean is the CIEDE2000 baseline. It only means something when the
two images show the same scene point at the same pixel (an edit of one capture); for two captures from
different viewpoints it would mostly show the misalignment, so it is left out and the page says why. Whether a
pair is aligned comes from its SPCD names when both are SPCD-style names (the dataset's rule,
`spcd_alignment`), otherwise from the images: `structure_similarity` correlates the luminance gradients of
the two images, which colour edits (white balance, tone, saturation) keep and a shift, rotation or zoom of a
few pixels destroys.

The mean colours (the average of each image's linear light, shown in sRGB) and their ΔE00 are given for every
pair: they say how the overall colour moved even when a pixel-wise map is meaningless.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ALIGNMENT_THRESHOLD",
    "Alignment",
    "PairAnalysis",
    "PairAnalyzer",
    "judge_alignment",
    "mean_colour",
    "structure_similarity",
]

# Gradient correlation from which two images count as pixel-aligned. Against the synthetic set's own labels
# (edits of one capture vs phone captures with their own framing; 900 pairs each): 97.0 % right at 64 px,
# where a phone's framing moves the content by about a pixel, and 100 % at 256 px (180 pairs).
# tests/demo/test_analysis.py checks it on a fresh set. The page lets the user override it.
ALIGNMENT_THRESHOLD = 0.93
_ALIGNMENT_SIDE = 256  # the structure check runs on images whose longer side is at most this

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Alignment:
    """aligned: whether a per-pixel map is meaningful; reason: one sentence for the page."""

    aligned: bool
    reason: str
    similarity: float | None = None


@dataclass
class PairAnalysis:
    """Everything the page shows for one pair (see the module docstring for where each number comes from).

    score: `ScoreResult`; description: `Description` or None when descriptions are off; ciede2000 / scielab:
    mean ΔE00 / S-CIELAB ΔE00 of the pair; cdflow: CD-Flow ΔE or None without a checkpoint; alignment;
    delta_e_map: (H, W) float32 per-pixel ΔE00 (None when not aligned); mean_colours: two uint8 sRGB triples;
    mean_colour_delta_e: ΔE00 between them; size: (width, height) of the compared pixels; seconds: per step.
    """

    score: Any
    description: Any
    ciede2000: float
    scielab: float
    cdflow: float | None
    alignment: Alignment
    delta_e_map: np.ndarray | None
    mean_colours: tuple[tuple[int, int, int], tuple[int, int, int]]
    mean_colour_delta_e: float
    size: tuple[int, int]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The numbers as plain JSON types (the page's "numbers" panel and its API output)."""
        score = self.score.to_dict()
        for name in ("std", "delta_v_low", "delta_v_high", "coverage"):  # uncertainty, when the scorer has it
            value = getattr(self.score, name, None)
            if value is not None:
                score[name] = value
        out: dict[str, Any] = {
            "score": score,
            "description": self.description.to_dict() if self.description is not None else None,
            "baselines": {"ciede2000": self.ciede2000, "scielab": self.scielab, "cdflow": self.cdflow},
            "aligned": self.alignment.aligned,
            "alignment": self.alignment.reason,
            "structure_similarity": self.alignment.similarity,
            "mean_colours": [list(c) for c in self.mean_colours],
            "mean_colour_delta_e00": self.mean_colour_delta_e,
            "compared_size": list(self.size),
            "seconds": dict(self.seconds),
        }
        if self.delta_e_map is not None:
            out["delta_e00_map"] = {
                "mean": float(np.mean(self.delta_e_map, dtype=np.float64)),
                "p95": float(np.percentile(self.delta_e_map, 95)),
                "max": float(self.delta_e_map.max()),
            }
        return out


# --- alignment ----------------------------------------------------------------------------------------------


def _luminance_gradients(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 → the Sobel gradient (d/dy, d/dx) of CIE L*, after a light 3×3 box blur; (H, W) each."""
    from scipy import ndimage

    from cdreasoning.colour import srgb_to_lab

    lightness = ndimage.uniform_filter(srgb_to_lab(rgb)[..., 0].astype(np.float64), size=3)
    return ndimage.sobel(lightness, axis=0), ndimage.sobel(lightness, axis=1)


def structure_similarity(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """Normalised correlation of the luminance-gradient fields of two same-shape (H, W, 3) uint8 images:
    Σ ∇a·∇b / sqrt(Σ|∇a|² Σ|∇b|²), on copies whose longer side is at most 256 px. Near 1 when every edge is
    at the same pixel with the same direction (colour edits of one capture, whatever their strength), lower
    once the content moves by a pixel or two. Flat images (no gradient) give 0."""
    from PIL import Image

    if rgb_a.shape != rgb_b.shape:
        raise ValueError(f"images differ in shape: {rgb_a.shape} vs {rgb_b.shape}")
    height, width = rgb_a.shape[:2]
    if max(height, width) > _ALIGNMENT_SIDE:
        factor = _ALIGNMENT_SIDE / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        rgb_a, rgb_b = (
            np.asarray(Image.fromarray(x).resize(size, Image.Resampling.BOX)) for x in (rgb_a, rgb_b)
        )
    (ya, xa), (yb, xb) = _luminance_gradients(rgb_a), _luminance_gradients(rgb_b)
    norm = math.sqrt(float((ya * ya + xa * xa).sum()) * float((yb * yb + xb * xb).sum()))
    return float((ya * yb + xa * xb).sum()) / norm if norm > 0 else 0.0


def judge_alignment(name_a: str, name_b: str, rgb_a: np.ndarray, rgb_b: np.ndarray) -> Alignment:
    """SPCD names decide when both are SPCD names (the dataset's own rule); otherwise the image structure."""
    from cdreasoning.data.spcd_names import spcd_alignment

    aligned = spcd_alignment(name_a, name_b)
    if aligned is not None:
        kind = "edits of one capture" if aligned else "two phone captures of the scene"
        return Alignment(aligned, f"SPCD names: {kind}")
    similarity = structure_similarity(rgb_a, rgb_b)
    if similarity >= ALIGNMENT_THRESHOLD:
        reason = f"same structure at every pixel (gradient correlation {similarity:.2f})"
        return Alignment(True, reason, similarity)
    reason = (
        f"the images are not pixel-aligned (gradient correlation {similarity:.2f} < {ALIGNMENT_THRESHOLD}): "
        "a per-pixel map would show the misalignment, not the colour difference"
    )
    return Alignment(False, reason, similarity)


# --- mean colour --------------------------------------------------------------------------------------------


def mean_colour(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 sRGB → (mean colour as sRGB in [0, 1] (3,), its CIELAB (3,)). The mean is taken over
    linear light (what the eye integrates), then encoded back to sRGB."""
    from cdreasoning.colour import linear_to_srgb, srgb_to_lab, srgb_to_linear

    linear = srgb_to_linear(np.asarray(rgb, dtype=np.float64) / 255.0).reshape(-1, 3).mean(axis=0)
    srgb = np.clip(linear_to_srgb(linear), 0.0, 1.0)
    return srgb, srgb_to_lab(srgb[None, None, :])[0, 0]


# --- the analyzer -------------------------------------------------------------------------------------------


class PairAnalyzer:
    """Holds the loaded models; `analyse` runs one pair. Not thread-safe: the page queues requests.

    scorer: a `CDScorer`; cdflow: a `CDFlowMetric` or None; describe: generate a description (the slow part
    on a CPU with a large model); max_new_tokens: its length limit; baseline: a `BaselineConfig` (its
    max_side and viewing conditions are used; default `BaselineConfig()`, as `eval baseline`).
    """

    def __init__(
        self, scorer, cdflow=None, *, describe: bool = True, max_new_tokens: int = 256, baseline=None
    ):
        from cdreasoning.evaluate.baseline import BaselineConfig

        self.scorer = scorer
        self.cdflow = cdflow
        self.describe = describe
        self.max_new_tokens = max_new_tokens
        self.baseline = baseline or BaselineConfig()

    def analyse(
        self,
        path_a: str | Path,
        path_b: str | Path,
        progress: Progress | None = None,
        names: tuple[str, str] | None = None,
        force_aligned: bool = False,
    ) -> PairAnalysis:
        """Analyse the pair (image a = reference). names: the pair's original file names (used for SPCD
        names' alignment rule; default the paths' names). progress(fraction, step) is called before each
        step. force_aligned: draw the ΔE00 map whatever the alignment check says (the user knows the pair is
        an edit of one photo). Image errors propagate (the page checks the files first, see `uploads`)."""
        from cdreasoning.colour import srgb_to_lab
        from cdreasoning.data.images import load_pair
        from cdreasoning.evaluate.colour_difference import delta_e, mean_delta_e
        from cdreasoning.evaluate.scielab import mean_scielab

        report = progress or (lambda fraction, step: None)
        steps = ["scoring with the model"]
        if self.describe:
            steps.append("describing the difference")
        steps += ["CIEDE2000 and S-CIELAB", "ΔE00 map and mean colours"]
        if self.cdflow is not None:
            steps.append("CD-Flow")
        seconds: dict[str, float] = {}
        position = iter(range(len(steps)))

        def step(name: str) -> float:
            report(next(position) / len(steps), name)
            return time.perf_counter()

        started = step("scoring with the model")
        score = self.scorer.score(path_a, path_b)
        seconds["score"] = time.perf_counter() - started

        description = None
        if self.describe:
            started = step("describing the difference")
            description = self.scorer.describe(path_a, path_b, max_new_tokens=self.max_new_tokens)
            seconds["describe"] = time.perf_counter() - started

        started = step("CIEDE2000 and S-CIELAB")
        pair = load_pair(path_a, path_b, self.baseline.max_side)
        ciede2000 = mean_delta_e(pair.a, pair.b, "ciede2000")
        scielab = mean_scielab(pair.a, pair.b, self.baseline.viewing().samples_per_degree() * pair.scale)
        seconds["baselines"] = time.perf_counter() - started

        started = step("ΔE00 map and mean colours")
        name_a, name_b = names or (Path(path_a).name, Path(path_b).name)
        alignment = judge_alignment(name_a, name_b, pair.a, pair.b)
        if force_aligned and not alignment.aligned:
            alignment = Alignment(True, "marked as pixel-aligned by you", alignment.similarity)
        delta_e_map = None
        if alignment.aligned:
            delta_e_map = delta_e(srgb_to_lab(pair.a), srgb_to_lab(pair.b), "ciede2000")
        (srgb_a, lab_a), (srgb_b, lab_b) = mean_colour(pair.a), mean_colour(pair.b)
        mean_colour_delta_e = float(delta_e(lab_a, lab_b, "ciede2000"))
        seconds["map"] = time.perf_counter() - started

        cdflow = None
        if self.cdflow is not None:
            started = step("CD-Flow")
            cdflow = float(self.cdflow(str(path_a), str(path_b))[0])
            seconds["cdflow"] = time.perf_counter() - started
        report(1.0, "done")

        def to_uint8(srgb: np.ndarray) -> tuple[int, int, int]:
            return tuple(int(v) for v in np.rint(srgb * 255.0))

        return PairAnalysis(
            score=score,
            description=description,
            ciede2000=ciede2000,
            scielab=scielab,
            cdflow=cdflow,
            alignment=alignment,
            delta_e_map=delta_e_map,
            mean_colours=(to_uint8(srgb_a), to_uint8(srgb_b)),
            mean_colour_delta_e=mean_colour_delta_e,
            size=(pair.a.shape[1], pair.a.shape[0]),
            seconds=seconds,
        )
