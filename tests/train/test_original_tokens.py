"""`cdreasoning train` tokenises a two-image M-SPCD record as the original Q-Align-style preprocessing does
(expected ids from CD-Reasoning's `tokenizer_image_token` under transformers 4.36's slow tokenizer)."""

import json

import pytest

from cdreasoning.processing import ImageProcessor, get_template, load_tokenizer
from cdreasoning.processing.original_prompt import for_model
from cdreasoning.train.dataset import ConversationDataset
from tests.original_eval import EXPECTED, IMAGES, PAIRS, TOKENIZERS, checkpoint


@pytest.mark.parametrize("name", TOKENIZERS)
def test_training_dataset_gives_the_original_ids(tmp_path, name):
    folder = checkpoint(name, tmp_path)
    record = {
        "id": "0001",
        "image": list(PAIRS[1]),
        "conversations": [
            {"from": "human", "value": f"<|image|><|image|>\n{EXPECTED['train_question']}"},
            {"from": "gpt", "value": EXPECTED["train_answer"]},
            {"from": "human", "value": EXPECTED["train_follow_up"][0]},
            {"from": "gpt", "value": EXPECTED["train_follow_up"][1]},
        ],
    }
    data = tmp_path / "train.json"
    data.write_text(json.dumps([record]))
    dataset = ConversationDataset(
        [data],
        load_tokenizer(folder),
        get_template("v1"),
        ImageProcessor(size=32),
        IMAGES,
        512,
        image_tokens=5,
    )
    sample = dataset[0]
    assert sample["input_ids"] == for_model(EXPECTED["tokenizers"][name]["train_two_rounds_ids"], 2)
    assert sample["pixel_values"].shape == (2, 3, 32, 32)


def test_saved_tokenizers_keep_their_sentencepiece_model(tmp_path):
    """transformers 5 saves tokenizer.json only; checkpoints we write keep tokenizer.model and its legacy flag,
    so a trained or exported model encodes prompts as it was trained."""
    from cdreasoning.processing import save_tokenizer, tokenize_prompt
    from cdreasoning.processing.chunk_encoding import read_legacy_flag
    from cdreasoning.processing.original_prompt import original_score_text

    for name in ("llama_legacy", "llama_nonlegacy"):
        source = checkpoint(name, tmp_path)
        tokenizer = load_tokenizer(source)
        saved = save_tokenizer(tokenizer, tmp_path / f"saved_{name}")
        assert (saved / "tokenizer.model").read_bytes() == (source / "tokenizer.model").read_bytes()
        assert read_legacy_flag(saved) == read_legacy_flag(source)
        text = original_score_text()
        assert tokenize_prompt(load_tokenizer(saved), text) == tokenize_prompt(tokenizer, text)
