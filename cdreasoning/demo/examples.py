"""Example pairs for the demo page, from the synthetic SPCD-like set (one click each).

    pairs = example_pairs("runs/quickstart/data", count=4)   # the quickstart's set (its held-out test pairs)
    pairs = example_pairs(make_example_set(tmp_dir))          # no set yet: a 5-scene set made in seconds

The pairs are taken from the set's test split, spread over the human ΔV range (nearest to the 10th, 40th, 70th
and 95th percentiles, and so on for other counts), alternating pixel-aligned edits and not-aligned phone
captures where both exist, so the examples show the whole scale and both kinds of pair. The choice is
deterministic. Each example carries its ground truth (human ΔV and its M-SPCD level), which the page shows
next to the model's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ExamplePair", "default_example_folder", "example_pairs", "make_example_set"]

# The quickstart's synthetic set (`QuickstartConfig().out / "data"`; checked by tests/demo/test_cli.py).
QUICKSTART_DATA = Path("runs/quickstart/data")
EXAMPLE_SCENES = 5
EXAMPLE_SIZE = 256


@dataclass(frozen=True)
class ExamplePair:
    """path_a / path_b: the two images (a = reference); delta_v: the set's ΔV; aligned: pixel-aligned edit."""

    path_a: Path
    path_b: Path
    delta_v: float
    aligned: bool

    @property
    def level(self) -> str:
        from cdreasoning.scale import level_from_delta_v

        return level_from_delta_v(self.delta_v)

    @property
    def label(self) -> str:
        kind = "aligned edit" if self.aligned else "two captures, not aligned"
        return f"{self.path_a.stem} vs {self.path_b.stem}: ΔV {self.delta_v:.2f} ({self.level}), {kind}"


def default_example_folder() -> Path:
    """The quickstart's synthetic set (`runs/quickstart/data`)."""
    return QUICKSTART_DATA


def make_example_set(folder: str | Path, seed: int = 0) -> Path:
    """A small synthetic set (5 scenes, 256 px; a few seconds) in `folder`; returns the folder."""
    from cdreasoning.data.synth import synthesize

    synthesize(folder, scenes=EXAMPLE_SCENES, seed=seed, size=EXAMPLE_SIZE)
    return Path(folder)


def example_pairs(folder: str | Path, count: int = 4) -> list[ExamplePair]:
    """`count` test pairs of the set in `folder` (test.csv + images/), spread over ΔV (module docstring).
    Raises DataError (from the CSV reader) naming the file when the set is incomplete."""
    from cdreasoning.data.spcd import read_spcd_csv
    from cdreasoning.errors import DataError

    folder = Path(folder)
    rows = sorted(read_spcd_csv(folder / "test.csv"), key=lambda pair: (pair.delta_v, pair.key))
    if count < 1 or not rows:
        return []
    targets = [0.1, 0.4, 0.7, 0.95] if count == 4 else [(i + 0.5) / count for i in range(count)]
    chosen: list = []
    for number, quantile in enumerate(targets):
        want_aligned = number % 2 == 0
        position = quantile * (len(rows) - 1)
        candidates = [pair for pair in rows if pair not in chosen]
        if not candidates:
            break
        preferred = [pair for pair in candidates if pair.aligned == want_aligned] or candidates
        chosen.append(min(preferred, key=lambda pair: (abs(rows.index(pair) - position), pair.key)))
    out = []
    for pair in chosen:
        path_a, path_b = folder / "images" / pair.image_a, folder / "images" / pair.image_b
        for path in (path_a, path_b):
            if not path.is_file():
                raise DataError(f"{folder / 'test.csv'}:{pair.line}: image {path} not found")
        out.append(ExamplePair(path_a, path_b, pair.delta_v, pair.aligned))
    return out
