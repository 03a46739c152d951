"""Small SPCD-like pair sets built from the photographs that ship with scikit-image (no download).

Scene s has a reference `I{s}_01_01.png` (a crop of a photo), pixel-aligned edits `I{s}_0{k+1}_01.png` for
k = 1..4 (a white-balance shift whose strength grows with k), and a "phone capture" `I{s}_01_02.png` (the crop
moved by a few pixels and slightly brighter: not pixel-aligned). The CSV lists (reference, edit k) with
ΔV = 1.5·k, plus (reference, reference-copy) with a small ΔV, plus the not-aligned pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

PHOTOS = (data.astronaut, data.coffee, data.chelsea, data.rocket)


def white_balance_edit(rgb: np.ndarray, strength: float) -> np.ndarray:
    gains = np.array([1.0 + 0.06 * strength, 1.0, 1.0 - 0.06 * strength])
    return np.clip(rgb.astype(np.float64) * gains, 0, 255).round().astype(np.uint8)


def crop(photo: np.ndarray, size: int, offset: int = 0) -> np.ndarray:
    h, w = photo.shape[:2]
    top, left = (h - size) // 2 + offset, (w - size) // 2 + offset
    return np.ascontiguousarray(photo[top : top + size, left : left + size, :3])


def make_pair_set(folder: Path, *, size: int = 48, scenes: int = 2) -> tuple[Path, Path, list[tuple]]:
    """Write images into folder/images and the pair list folder/pairs.csv.

    Returns (csv path, image folder, rows) with rows = (image_a, image_b, ΔV, edit strength or None).
    """
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(1, scenes + 1):
        photo = PHOTOS[(s - 1) % len(PHOTOS)]()
        ref = crop(photo, size)
        name = f"I{s:04d}_01_01.png"
        Image.fromarray(ref).save(images / name)
        Image.fromarray(ref).save(images / f"I{s:04d}_07_01.png")  # an identical copy: ΔE must be 0
        rows.append((name, f"I{s:04d}_07_01.png", 0.95, 0))
        for k in range(1, 5):
            edit = f"I{s:04d}_0{k + 1}_01.png"
            Image.fromarray(white_balance_edit(ref, k)).save(images / edit)
            rows.append((name, edit, 1.5 * k, k))
        phone = np.clip(crop(photo, size, offset=3).astype(np.float64) * 1.04, 0, 255).astype(np.uint8)
        Image.fromarray(phone).save(images / f"I{s:04d}_01_02.png")
        rows.append((name, f"I{s:04d}_01_02.png", round(1.8 + 0.4 * s, 2), None))
    csv_path = folder / "pairs.csv"
    csv_path.write_text("".join(f"{a},{b},{dv}\n" for a, b, dv, _ in rows))
    return csv_path, images, rows
