"""Shared fixtures of the demo tests: a small synthetic set (made by the real generator) and its pairs."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def demo_set(tmp_path_factory):
    """5 scenes at 256 px (a few seconds): train/val/test CSVs and images/, as `cdreasoning data synth`."""
    from cdreasoning.demo.examples import make_example_set

    return make_example_set(tmp_path_factory.mktemp("demo-set") / "synth")


@pytest.fixture(scope="session")
def demo_pairs(demo_set):
    """Every pair of the set as SpcdPair (image names relative to images/)."""
    from cdreasoning.data.spcd import read_spcd_csv

    return [pair for split in ("train", "val", "test") for pair in read_spcd_csv(demo_set / f"{split}.csv")]
