import pytest


@pytest.fixture(scope="session")
def scorer(tiny_checkpoint):
    from cdreasoning import CDScorer

    return CDScorer.from_pretrained(tiny_checkpoint, device="cpu", dtype="float32")
