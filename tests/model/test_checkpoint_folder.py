"""One checkpoint handle: `CheckpointFolder` reads config.json once and hands it to every loader."""

from __future__ import annotations

import builtins
import io
import json
import shutil

import pytest

from cdreasoning.errors import CheckpointError
from cdreasoning.model import CheckpointFolder, MPLUGOwl2Config


@pytest.fixture
def config_reads(monkeypatch):
    """Counts the opens of any file named config.json (builtins.open, io.open: what Path, json and
    transformers all go through)."""
    opened: list[str] = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file).endswith("config.json") and not str(file).endswith(
            (
                "tokenizer_config.json",
                "preprocessor_config.json",
                "generation_config.json",
                "adapter_config.json",
            )
        ):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    return opened


def test_scorer_reads_the_config_once(tiny_checkpoint, config_reads):
    from cdreasoning import CDScorer

    scorer = CDScorer.from_pretrained(tiny_checkpoint, device="cpu", dtype="float32")
    assert config_reads == [str(tiny_checkpoint / "config.json")]
    # the config the handle read is the one the model runs with
    expected = json.loads((tiny_checkpoint / "config.json").read_text())
    assert scorer.model.config.hidden_size == expected["hidden_size"]


def test_handle_passes_its_config_to_every_loader(tiny_checkpoint, config_reads):
    checkpoint = CheckpointFolder.open(tiny_checkpoint)
    assert isinstance(checkpoint.config, MPLUGOwl2Config) and len(config_reads) == 1
    model = checkpoint.load_model()
    tokenizer = checkpoint.load_tokenizer()
    processor = checkpoint.image_processor()
    assert len(config_reads) == 1
    assert model.config.vision.image_size == processor.size and tokenizer.eos_token_id is not None
    assert CheckpointFolder.open(checkpoint) is checkpoint  # an open handle is passed on as it is


def test_wrong_folders_name_the_file(tmp_path, tiny_checkpoint):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CheckpointFolder.open(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="no config.json"):
        CheckpointFolder.open(tmp_path)
    other = tmp_path / "llama"
    shutil.copytree(tiny_checkpoint, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(CheckpointError, match=r"llama.config\.json: model_type is 'llama'"):
        CheckpointFolder.open(other)
    preprocessor = json.loads((tiny_checkpoint / "preprocessor_config.json").read_text())
    (other / "config.json").write_text(json.dumps(config))
    (other / "preprocessor_config.json").write_text(json.dumps({**preprocessor, "crop_size": 7, "size": 7}))
    with pytest.raises(CheckpointError, match="preprocessor size 7 != model image_size"):
        CheckpointFolder.open(other).image_processor()
