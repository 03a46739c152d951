"""Run a CD-Flow model over a list of pairs: batched, in order, on any device (validation, `cdflow test`).

    from cdreasoning.cdflow.predict import predict_pairs
    dataset = EvalPairs(pairs, image_dir, csv_path=csv, eval_size=1024, multiple=64)
    delta_e = predict_pairs(model, dataset, batch_size=4, device=device)      # float64 [n], in pair order

Pairs are loaded by `num_workers` processes and grouped into batches of up to `batch_size` consecutive pairs of
the same size (pairs of different sizes are never padded or resized to batch them). Under `amp_dtype` the
coupling networks run in reduced precision; the distance itself is float32 (see flow.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from cdreasoning.cdflow.flow import CDFlow

__all__ = ["predict_pairs"]


def _same_size_batches(items: Iterable, batch_size: int) -> Iterator[tuple]:
    """Group (x [3,H,W], y, ΔV, index) items into batches of ≤ batch_size consecutive same-size pairs."""
    batch: list = []
    for item in items:
        if batch and (len(batch) == batch_size or item[0].shape != batch[0][0].shape):
            yield _stack(batch)
            batch = []
        batch.append(item)
    if batch:
        yield _stack(batch)


def _stack(batch: list) -> tuple:
    x = torch.stack([item[0] for item in batch])
    y = torch.stack([item[1] for item in batch])
    return x, y, [int(item[3]) for item in batch]


@torch.no_grad()
def predict_pairs(
    model: CDFlow,
    dataset: Dataset,
    *,
    batch_size: int = 4,
    device: torch.device | None = None,
    amp_dtype: torch.dtype | None = None,
    num_workers: int = 0,
    indices: Sequence[int] | None = None,
    progress: bool = False,
    desc: str = "cdflow",
    on_batch: Callable[[list[int], np.ndarray], None] | None = None,
) -> np.ndarray:
    """ΔE of the pairs `indices` of `dataset` (default: all), float64 [len(indices)], in that order.

    on_batch(indices, values) is called after every batch (the test command appends them to its cache).
    The model is put in eval mode and left so.
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    device = device or next(model.parameters()).device
    indices = list(range(len(dataset))) if indices is None else list(indices)
    model.eval()
    loader = DataLoader(
        dataset,
        batch_size=None,
        sampler=indices,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    values: dict[int, float] = {}
    with tqdm(total=len(indices), desc=desc, unit="pair", disable=not progress, dynamic_ncols=True) as bar:
        for x, y, batch_indices in _same_size_batches(loader, batch_size):
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                delta_e = model.distance(x, y)
            batch_values = delta_e.double().cpu().numpy()
            values.update(zip(batch_indices, batch_values.tolist()))
            if on_batch is not None:
                on_batch(batch_indices, batch_values)
            bar.update(len(batch_indices))
    return np.array([values[i] for i in indices], dtype=np.float64)
