import pytest


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory):
    """A small synthetic SPCD-like set made by the real generator (6 scenes, 64 px)."""
    from cdreasoning.data import synthesize

    out = tmp_path_factory.mktemp("synth") / "set"
    synthesize(out, scenes=6, seed=0, size=64, pairs_per_scene=8)
    return out
