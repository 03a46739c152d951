"""Templates render as documented; tokenisation puts one sentinel per image and supervises answers only."""

import pytest

from cdreasoning.constants import ANSWER_PREFIX, IGNORE_INDEX, IMAGE_TOKEN_INDEX
from cdreasoning.processing import (
    count_image_placeholders,
    get_template,
    load_tokenizer,
    normalize_image_placeholders,
    tokenize_conversation,
    tokenize_prompt,
)

SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions."
)
QUESTION = "<|image|><|image|>\nHow do you perceive the color difference between these two images?"
ANSWER = "The color difference between these two images is moderate."


def test_v1_renders_vicuna_with_system_prompt():
    t = get_template("v1")
    text = t.render([t.user_turn(QUESTION), t.assistant_turn(ANSWER)])
    assert text == f"{SYSTEM} USER: {QUESTION} ASSISTANT: {ANSWER}</s>"
    assert get_template("vicuna_v1") is t


def test_mplug_owl2_renders_without_system_prompt():
    t = get_template("mplug_owl2")
    assert (
        t.render([t.user_turn(QUESTION), t.assistant_turn(ANSWER)])
        == f"USER: {QUESTION} ASSISTANT: {ANSWER}</s>"
    )
    assert t.render_prompt([t.user_turn(QUESTION)]) == f"USER: {QUESTION} ASSISTANT:"


def test_prompt_with_answer_prefix_is_a_prefix_of_the_training_text():
    for name in ("v1", "mplug_owl2"):
        t = get_template(name)
        full = t.render([t.user_turn(QUESTION), t.assistant_turn(ANSWER)])
        prompt = t.render_prompt([t.user_turn(QUESTION)], ANSWER_PREFIX)
        assert full.startswith(prompt) and prompt.endswith("ASSISTANT: " + ANSWER_PREFIX)


def test_multi_turn_spans_cover_each_answer_and_its_eos():
    t = get_template("v1")
    turns = [
        t.user_turn("<|image|>\nA?"),
        t.assistant_turn("one"),
        t.user_turn("B?"),
        t.assistant_turn("two"),
    ]
    text, spans = t.render_with_spans(turns)
    assert [text[s:e] for s, e in spans] == ["one</s>", "two</s>"]
    with pytest.raises(ValueError, match="alternate"):
        t.render([t.user_turn("a"), t.user_turn("b")])
    with pytest.raises(ValueError, match="unknown conversation template"):
        get_template("llama3")


def test_image_placeholder_spellings():
    text = "<image><|image|>\nQ"
    assert count_image_placeholders(text) == 2
    assert normalize_image_placeholders(text) == "<|image|><|image|>\nQ"


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    return load_tokenizer(tiny_checkpoint)


def test_prompt_tokens_have_one_sentinel_per_image_and_one_bos(tokenizer):
    ids = tokenize_prompt(tokenizer, "USER: <|image|><|image|>\nQ? ASSISTANT:")
    assert ids.count(IMAGE_TOKEN_INDEX) == 2
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
    first = ids.index(IMAGE_TOKEN_INDEX)
    assert ids[first + 1] == IMAGE_TOKEN_INDEX  # nothing between adjacent images
    # a prompt starting with an image still starts with BOS
    assert tokenize_prompt(tokenizer, "<|image|>x")[:2] == [tokenizer.bos_token_id, IMAGE_TOKEN_INDEX]


def test_the_llava_spelling_is_never_dropped(tokenizer):
    a = tokenize_prompt(tokenizer, "USER: <image><image>\nQ ASSISTANT:")
    b = tokenize_prompt(tokenizer, "USER: <|image|><|image|>\nQ ASSISTANT:")
    assert a == b and a.count(IMAGE_TOKEN_INDEX) == 2


@pytest.mark.parametrize("name", ["v1", "mplug_owl2"])
def test_labels_supervise_exactly_the_answer_and_eos(tokenizer, name):
    t = get_template(name)
    result = tokenize_conversation(tokenizer, t, [t.user_turn(QUESTION), t.assistant_turn(ANSWER)])
    assert result.num_images == 2 and result.input_ids.count(IMAGE_TOKEN_INDEX) == 2
    supervised = [i for i, label in enumerate(result.labels) if label != IGNORE_INDEX]
    # contiguous, at the end, ending with EOS
    assert supervised == list(range(supervised[0], len(result.input_ids)))
    assert result.input_ids[-1] == tokenizer.eos_token_id
    answer_ids = [result.input_ids[i] for i in supervised[:-1]]
    assert tokenizer.decode(answer_ids).strip() == ANSWER
    for i, label in enumerate(result.labels):
        assert label in (IGNORE_INDEX, result.input_ids[i])
    # the prompt the scorer uses is exactly the unsupervised part plus the answer prefix
    prompt = tokenize_prompt(tokenizer, t.render_prompt([t.user_turn(QUESTION)]))
    assert result.input_ids[: len(prompt)] == prompt
    assert len(prompt) == supervised[0]


def test_multi_turn_labels(tokenizer):
    t = get_template("v1")
    turns = [
        t.user_turn("<|image|><|image|>\nFirst?"),
        t.assistant_turn("slight"),
        t.user_turn("Second?"),
        t.assistant_turn("severe"),
    ]
    result = tokenize_conversation(tokenizer, t, turns)
    supervised_text = tokenizer.decode(
        [i for i, l in zip(result.input_ids, result.labels) if l != IGNORE_INDEX]
    )
    assert supervised_text.replace(" ", "") == "slight</s>severe</s>"
