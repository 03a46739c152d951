"""`--original-prompt` tokens and pixels equal what CD-Reasoning's own code builds (fixture from transformers
4.36's slow tokenizer and CLIPImageProcessor), and prompt tokenisation follows SentencePiece chunk by chunk."""

import numpy as np
import pytest
import sentencepiece as spm

from cdreasoning.constants import IMAGE_TOKEN_INDEX
from cdreasoning.processing import (
    ImageProcessor,
    get_template,
    load_tokenizer,
    tokenize_conversation,
    tokenize_prompt,
)
from cdreasoning.processing.chunk_encoding import ChunkEncoder
from cdreasoning.processing.original_prompt import (
    for_model,
    original_describe_text,
    original_prompts,
    original_score_text,
)
from cdreasoning.processing.tokenizer_files import build_tokenizer
from tests.original_eval import EXPECTED, IMAGES, PAIRS, TOKENIZERS, checkpoint, pixels


@pytest.fixture(scope="module", params=TOKENIZERS)
def variant(request, tmp_path_factory):
    folder = checkpoint(request.param, tmp_path_factory.mktemp("original"))
    return request.param, load_tokenizer(folder), folder


def test_prompt_texts_are_the_original_scripts():
    for reference in EXPECTED["tokenizers"].values():
        assert original_score_text() == reference["score_prompt"]
        assert original_describe_text() == reference["describe_prompt"]
    assert original_score_text().endswith(
        "two images?\n<|image|> ASSISTANT:The color difference between these two images is"
    )


def test_original_ids_equal_the_original_code(variant):
    name, tokenizer, _ = variant
    reference = EXPECTED["tokenizers"][name]
    built = original_prompts(tokenizer)
    assert built.score_ids == reference["score_ids"]
    assert built.score_ids.count(IMAGE_TOKEN_INDEX) == 1  # one placeholder holds both images
    assert built.level_ids == reference["level_ids"]
    assert built.describe_ids == reference["describe_ids"]
    assert built.score_model_ids().count(IMAGE_TOKEN_INDEX) == 2


def test_training_record_ids_equal_the_original_preprocessing(variant):
    """A two-image M-SPCD record through our training tokenisation gives the ids of Q-Align's preprocess_v1
    (which keeps ONE placeholder for both images: the same visual block once expanded), also after a `</s>`,
    where legacy and non-legacy tokenizers differ."""
    name, tokenizer, _ = variant
    reference = EXPECTED["tokenizers"][name]
    t = get_template("v1")
    turns = [
        t.user_turn(f"<|image|><|image|>\n{EXPECTED['train_question']}"),
        t.assistant_turn(EXPECTED["train_answer"]),
    ]
    ours = tokenize_conversation(tokenizer, t, turns)
    assert ours.input_ids == for_model(reference["train_ids"], 2)
    turns += [t.user_turn(EXPECTED["train_follow_up"][0]), t.assistant_turn(EXPECTED["train_follow_up"][1])]
    ours = tokenize_conversation(tokenizer, t, turns)
    assert ours.input_ids == for_model(reference["train_two_rounds_ids"], 2)
    supervised = [i for i, label in zip(ours.input_ids, ours.labels) if label != -100]
    answers = f"{EXPECTED['train_answer']}</s> {EXPECTED['train_follow_up'][1]}</s>"
    assert tokenizer.decode(supervised) == answers


def test_legacy_flag_changes_the_text_after_a_special_token():
    legacy = EXPECTED["tokenizers"]["llama_legacy"]["train_two_rounds_ids"]
    non_legacy = EXPECTED["tokenizers"]["llama_nonlegacy"]["train_two_rounds_ids"]
    assert legacy != non_legacy  # "</s>USER" → "▁USER" (legacy) vs "USER"
    assert EXPECTED["tokenizers"]["llama_legacy"]["pieces_of_assistant_chunk"][:3] == [
        "<s>",
        "▁",
        "▁ASSISTANT",
    ]
    assert EXPECTED["tokenizers"]["trimming"]["pieces_of_assistant_chunk"][:2] == ["<s>", "▁ASSISTANT"]


def test_pixels_equal_the_original_preprocessing():
    expected = pixels()
    for index, (a, b) in enumerate(PAIRS):
        files = [IMAGES / a, IMAGES / b]
        score = ImageProcessor(size=32, aspect_ratio="pad")(files).numpy()
        describe = ImageProcessor(size=32, aspect_ratio="crop")(files).numpy()
        np.testing.assert_allclose(score, expected[f"score_{index}"], atol=1e-6, rtol=0)
        np.testing.assert_allclose(describe, expected[f"describe_{index}"], atol=1e-6, rtol=0)
    # the non-square pair really is preprocessed differently by the two scripts
    assert np.abs(expected["score_1"] - expected["describe_1"]).max() > 0.1


def _sentencepiece_chunks(model_file: str, text: str, bos: int) -> list[int]:
    """The original's rule written out with sentencepiece alone: split on <|image|>, encode every chunk on its
    own (each gets the dummy prefix), BOS once at the start, IMAGE_TOKEN_INDEX between chunks."""
    sp = spm.SentencePieceProcessor(model_file=model_file)
    ids = [bos]
    for index, chunk in enumerate(text.split("<|image|>")):
        if index:
            ids.append(IMAGE_TOKEN_INDEX)
        if chunk:
            ids += sp.encode(chunk)
    return ids


def test_prompt_ids_follow_sentencepiece_chunk_by_chunk(variant):
    _, tokenizer, folder = variant
    model_file = str(folder / "tokenizer.model")
    for text in (
        original_score_text(),
        original_describe_text(),
        "USER: <|image|><|image|>\nHow  do you  see it? ASSISTANT: Très légère différence — 色差 ok\n",
    ):
        assert tokenize_prompt(tokenizer, text) == _sentencepiece_chunks(
            model_file, text, tokenizer.bos_token_id
        )


def test_tiny_tokenizer_is_llama_like(tmp_path):
    """Identity normalisation, whitespace kept, dummy prefix, byte fallback — and our encoding agrees with
    SentencePiece's on newlines, double spaces, leading spaces and non-ASCII text."""
    from sentencepiece import sentencepiece_model_pb2

    folder = build_tokenizer(tmp_path / "tok")
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString((folder / "tokenizer.model").read_bytes())
    assert proto.normalizer_spec.name == "identity"
    assert proto.normalizer_spec.add_dummy_prefix and not proto.normalizer_spec.remove_extra_whitespaces
    assert proto.trainer_spec.byte_fallback
    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    tokenizer = load_tokenizer(folder)
    for text in (
        "USER: How are these?\n",
        "two  spaces  and a trailing one ",
        " leading space",
        "\n\nnewlines first",
        "Ünïcödé, 颜色 and emoji 🎨",
    ):
        assert tokenize_prompt(tokenizer, text) == [tokenizer.bos_token_id, *sp.encode(text)], text
        assert sp.decode(sp.encode(text)) == text  # nothing normalised away
    assert sp.encode(" ASSISTANT:", out_type=str)[0] == "▁"  # the quirk real LLaMA tokenizers have


def test_chunk_encoder_offsets_point_at_the_text(variant):
    _, _, folder = variant
    encoder = ChunkEncoder(str(folder / "tokenizer.model"))
    text = "a é</s> USER: b"
    ids, offsets = encoder.encode_with_offsets(text)
    assert ids == encoder.encode(text) and len(offsets) == len(ids)
    assert all(0 <= s <= e <= len(text) for s, e in offsets)
    assert text[offsets[ids.index(encoder.eos_id)][0] :].startswith("</s>")
