"""Tiny random checkpoints of every supported HF family, written by the real `init-model` code path."""

import pytest

HF_FAMILIES = ("tiny-qwen2_5_vl", "tiny-qwen3_vl", "tiny-qwen3_5", "tiny-idefics3")


@pytest.fixture(scope="session")
def hf_checkpoints(tmp_path_factory):
    from cdreasoning.backbones.tiny_presets import write_hf_preset

    root = tmp_path_factory.mktemp("hf-presets")
    return {name: write_hf_preset(name, root / name, seed=0) for name in HF_FAMILIES}


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory):
    """A small synthetic SPCD-like set made by the real generator (5 scenes, 64 px)."""
    from cdreasoning.data import synthesize

    out = tmp_path_factory.mktemp("bb-synth") / "set"
    synthesize(out, scenes=5, seed=0, size=64, pairs_per_scene=6)
    return out
