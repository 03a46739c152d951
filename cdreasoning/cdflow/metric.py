"""CD-Flow as a ready-to-use colour-difference metric: ΔE between two images (or batches) from a checkpoint.

    from cdreasoning.cdflow import CDFlowMetric
    metric = CDFlowMetric.from_checkpoint("work_dir/best.pt", device="auto")
    metric(x, y)                                  # tensors [b, 3, H, W] (or [3, H, W]) in [0, 1] → ΔE [b]
    metric("I0006_01_03.png", "I0006_01_04.png")  # image files (or PIL images, uint8 HxWx3 arrays) → ΔE [1]
    metric([a1, a2], [b1, b2])                    # lists of images → ΔE [2]

Tensors are used as given: H and W must be multiples of 2**scales (else a ValueError says so). Images (files,
PIL, numpy) go through the evaluation preprocessing of `cdflow test` (`data.prepare_eval_pair`: common size,
shorter side resized to the checkpoint's evaluation size, centre crop to multiples of 2**scales), so the metric
returns exactly the numbers `cdflow test` reports. The result is a float32 CPU tensor with one ΔE per pair;
ΔE is a proper metric (d(x, x) = 0, symmetric, triangle inequality) on the preprocessed images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cdreasoning.cdflow.checkpoint import model_from_checkpoint
from cdreasoning.cdflow.flow import CDFlow
from cdreasoning.cdflow.options import resolve_amp_dtype
from cdreasoning.runtime import resolve_device

__all__ = ["CDFlowMetric"]


def _is_image(value: Any) -> bool:
    from PIL import Image

    return isinstance(value, (str, Path, np.ndarray, Image.Image))


class CDFlowMetric:
    """ΔE of image pairs with a trained CD-Flow model (see the module docstring)."""

    def __init__(
        self,
        model: CDFlow,
        *,
        eval_size: int | None = None,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        batch_size: int = 8,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.eval_size = eval_size
        self.amp_dtype = resolve_amp_dtype(precision, self.device)
        self.batch_size = batch_size

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        batch_size: int = 8,
    ) -> CDFlowMetric:
        """The metric of a best.pt (or last.pt: its EMA weights); architecture and sizes come from the file."""
        # Loaded on the CPU, then moved once, by __init__, to the chosen device.
        model, info = model_from_checkpoint(path, device="cpu")
        return cls(
            model, eval_size=info["eval_size"], device=device, precision=precision, batch_size=batch_size
        )

    # --- inputs -------------------------------------------------------------------------------------------

    def prepare_pair(self, image_a: Any, image_b: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """One pair of images (paths, PIL images or uint8 (H, W, 3) arrays) → two float32 [3, H, W] tensors,
        preprocessed as `cdflow test` does."""
        from PIL import Image

        from cdreasoning.cdflow.data import prepare_eval_arrays, to_tensor
        from cdreasoning.data.images import load_image, read_rgb

        arrays = []
        for image in (image_a, image_b):
            if isinstance(image, (str, Path)):
                image = read_rgb(image)
            elif isinstance(image, Image.Image):
                # load_image applies the package's rules (EXIF,
                # alpha on white, mode conversion) to PIL input too.
                image = np.asarray(load_image(image), dtype=np.uint8)
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(
                    f"image arrays must be uint8 (H, W, 3) sRGB, got {image.dtype} {image.shape}"
                )
            arrays.append(image)
        # The checkpoint's evaluation size and the flow's multiple (2**scales), as cdflow test preprocesses.
        a, b = prepare_eval_arrays(arrays[0], arrays[1], self.eval_size, self.model.config.multiple)
        return to_tensor(a), to_tensor(b)

    def _as_batches(self, img_a: Any, img_b: Any) -> list[tuple[torch.Tensor, torch.Tensor, list[int]]]:
        """Group the inputs into same-size batches: [(x [n, 3, H, W], y, positions in the output)]."""
        if isinstance(img_a, torch.Tensor) or isinstance(img_b, torch.Tensor):
            if not (isinstance(img_a, torch.Tensor) and isinstance(img_b, torch.Tensor)):
                raise TypeError("pass both images as tensors, or both as images (paths, PIL, uint8 arrays)")
            x = img_a[None] if img_a.dim() == 3 else img_a
            y = img_b[None] if img_b.dim() == 3 else img_b
            if x.shape != y.shape:
                raise ValueError(f"the two batches differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
            positions = list(range(x.shape[0]))
            return [
                (x[i : i + self.batch_size], y[i : i + self.batch_size], positions[i : i + self.batch_size])
                for i in range(0, x.shape[0], self.batch_size)
            ]
        if _is_image(img_a) and _is_image(img_b):
            img_a, img_b = [img_a], [img_b]
        if not (isinstance(img_a, Sequence) and isinstance(img_b, Sequence)) or len(img_a) != len(img_b):
            raise ValueError("pass two tensors, two images, or two lists of images of the same length")
        # Pairs of one size go together: preprocessing keeps
        # each pair's aspect, so sizes may differ across pairs.
        groups: dict[tuple, list] = {}
        for position, (a, b) in enumerate(zip(img_a, img_b)):
            x, y = self.prepare_pair(a, b)
            groups.setdefault(tuple(x.shape), []).append((x, y, position))
        batches = []
        for items in groups.values():
            for i in range(0, len(items), self.batch_size):
                chunk = items[i : i + self.batch_size]
                batches.append(
                    (
                        torch.stack([c[0] for c in chunk]),
                        torch.stack([c[1] for c in chunk]),
                        [c[2] for c in chunk],
                    )
                )
        return batches

    # --- the metric ---------------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(self, img_a: Any, img_b: Any) -> torch.Tensor:
        """ΔE per pair, float32 CPU tensor [b] (b = 1 for a single pair)."""
        batches = self._as_batches(img_a, img_b)
        total = sum(len(positions) for _, _, positions in batches)
        out = torch.empty(total, dtype=torch.float32)
        for x, y, positions in batches:
            # float32 inputs; autocast (if asked) lowers only the coupling nets, the latents stay float32.
            x = x.to(self.device, torch.float32)
            y = y.to(self.device, torch.float32)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                delta_e = self.model.distance(x, y)
            # positions: each batch's results go back to input order (batches were grouped by size).
            out[positions] = delta_e.float().cpu()
        return out

    def partial_distances(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[b, K] distances over scales k..K of tensors x, y [b, 3, H, W] (column 0 = ΔE)."""
        with torch.no_grad():
            return self.model.partial_distances(x.to(self.device), y.to(self.device)).float().cpu()
