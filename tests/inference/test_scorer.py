"""CDScorer: result invariants, batch invariance, level tokens found in context, prompt choices."""

import math

import pytest
import torch

from cdreasoning import CDScorer, LevelScale
from cdreasoning.constants import CD_LEVELS, IMAGE_TOKEN_INDEX
from cdreasoning.errors import ImageError
from cdreasoning.scale import delta_v_from_grade


def test_result_fields_and_invariants(scorer, pair_folder):
    result = scorer.score(pair_folder / "img0.png", pair_folder / "img1.png")
    assert list(result.probabilities) == list(CD_LEVELS)
    assert math.isclose(sum(result.probabilities.values()), 1.0, rel_tol=1e-5)
    expected = sum(p * w for p, w in zip(result.probabilities.values(), (0, 1.25, 2.5, 3.75, 5)))
    assert math.isclose(result.score, expected, rel_tol=1e-5) and 0 <= result.score <= 5
    assert result.level == max(result.probabilities, key=result.probabilities.get)
    assert math.isclose(result.delta_v, delta_v_from_grade(result.score))
    assert set(result.to_dict()) == {"score", "level", "delta_v", "probabilities"}


def test_score_does_not_depend_on_the_batch(scorer, pair_folder):
    pairs = [(pair_folder / f"img{i}.png", pair_folder / f"img{(i * 3 + 1) % 8}.png") for i in range(7)]
    alone = [scorer.score(a, b).score for a, b in pairs]
    for batch_size in (2, 3, 7):
        batched = [r.score for r in scorer.score_pairs(pairs, batch_size=batch_size)]
        assert max(abs(x - y) for x, y in zip(alone, batched)) <= 1e-4
    # the same pair in a batch with different partners gives the same result
    mixed = scorer.score_pairs([pairs[0], pairs[5], pairs[0]], batch_size=3)
    assert abs(mixed[0].score - mixed[2].score) <= 1e-6


def test_level_token_ids_are_the_first_subtokens_in_context(scorer):
    tokenizer = scorer.tokenizer
    for word, token_id in zip(CD_LEVELS, scorer._level_ids):
        assert tokenizer.convert_ids_to_tokens(token_id) == "▁" + word
    assert scorer._score_ids.count(IMAGE_TOKEN_INDEX) == 2


def test_the_logits_used_are_the_level_tokens_after_the_answer_prefix(scorer, pair_folder):
    pixels = scorer.image_processor([pair_folder / "img2.png", pair_folder / "img3.png"])
    with torch.no_grad():
        logits = scorer.model(input_ids=torch.tensor([scorer._score_ids]), pixel_values=pixels).logits[0, -1]
    expected = logits[scorer._level_ids].softmax(-1)
    assert torch.allclose(scorer.level_probabilities(pixels)[0], expected, atol=1e-6)


def test_custom_levels_qalign_quality_words(scorer, tiny_checkpoint):
    levels = LevelScale(
        words=("excellent", "good", "fair", "poor", "bad"),
        weights=(5, 4, 3, 2, 1),
        answer_prefix="The quality of the image is",
    )
    custom = CDScorer(scorer.model, scorer.tokenizer, scorer.image_processor, levels=levels)
    assert len(set(custom._level_ids)) == 5
    result = custom.score(torch.zeros(3, 8, 8).numpy().transpose(1, 2, 0), torch.ones(8, 8, 3).numpy())
    assert set(result.probabilities) == set(levels.words) and 1 <= result.score <= 5
    with pytest.raises(ValueError, match="share first sub-tokens"):
        CDScorer(
            scorer.model,
            scorer.tokenizer,
            scorer.image_processor,
            levels=LevelScale(words=("slightest", "slight"), weights=(0, 1)),
        )


def _segments(scorer, ids):
    """Decoded text before, between and after the two image sentinels."""
    first = ids.index(IMAGE_TOKEN_INDEX)
    assert ids[first + 1] == IMAGE_TOKEN_INDEX
    decode = scorer.tokenizer.decode
    return decode(ids[:first], skip_special_tokens=True), decode(ids[first + 2 :], skip_special_tokens=True)


def test_template_and_image_position_select_the_prompt(tiny_checkpoint, scorer):
    question = "How would you rate the color difference of these two images?"
    original = CDScorer.from_pretrained(
        tiny_checkpoint, device="cpu", conv_template="mplug_owl2", image_position="after", question=question
    )
    before, after = _segments(original, original._score_ids)
    assert before.strip() == f"USER: {question}"
    assert after.strip() == "ASSISTANT: The color difference between these two images is"
    before, after = _segments(scorer, scorer._score_ids)
    assert before.startswith("A chat between a curious user") and before.rstrip().endswith("USER:")
    assert after.strip().startswith(
        "How would you describe the color difference in these two images? ASSISTANT:"
    )


def test_unreadable_image_names_the_pair(scorer, pair_folder, tmp_path):
    with pytest.raises(ImageError, match=r"pair 1 .*missing.png"):
        scorer.score_pairs(
            [
                (pair_folder / "img0.png", pair_folder / "img1.png"),
                (pair_folder / "img0.png", tmp_path / "missing.png"),
            ]
        )


def test_quantised_loading_needs_cuda(tiny_checkpoint):
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        CDScorer.from_pretrained(tiny_checkpoint, device="cpu", load_8bit=True)


def test_generate_descriptions_returns_text(scorer, pair_folder):
    pixels = scorer.image_processor([pair_folder / "img0.png", pair_folder / "img1.png"] * 2)
    texts = scorer.generate_descriptions(pixels, max_new_tokens=12)
    assert len(texts) == 2 and texts[0] == texts[1] and isinstance(texts[0], str)
    sampled = scorer.generate_descriptions(pixels[:2], max_new_tokens=12, temperature=1.0, seed=3)
    assert sampled == scorer.generate_descriptions(pixels[:2], max_new_tokens=12, temperature=1.0, seed=3)
