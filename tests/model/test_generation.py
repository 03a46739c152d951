"""Generation with a KV cache equals the cache-free argmax loop, alone and in left-padded batches."""

import pytest
import torch

from cdreasoning.model.kv_cache import KVCache
from tests.model.helpers import pad_batch, random_model, sample_inputs, small_config


@pytest.fixture(scope="module")
def model():
    return random_model(small_config(vocab=64), seed=11)


def test_greedy_with_cache_equals_cache_free_loop(model):
    ((ids, images),) = sample_inputs(model.config, lengths=[(4, 3)], seed=1)
    input_ids, pixels = torch.tensor([ids]), torch.stack(images)
    cached = model.generate(input_ids, pixel_values=pixels, max_new_tokens=12, eos_token_id=-1)
    plain = model.generate(
        input_ids, pixel_values=pixels, max_new_tokens=12, eos_token_id=-1, use_cache=False
    )
    assert cached.shape == (1, 12)
    assert torch.equal(cached, plain)
    # and the cache-free loop is the argmax of the full forward at each step
    sequence = input_ids
    with torch.no_grad():
        for step in range(12):
            token = model(input_ids=sequence, pixel_values=pixels).logits[0, -1].argmax()
            assert int(token) == int(cached[0, step])
            sequence = torch.cat([sequence, token.view(1, 1)], dim=1)


def test_batched_left_padded_generation_matches_single(model):
    samples = sample_inputs(model.config, lengths=[(2, 6), (7, 1), (4, 2)], seed=2)
    input_ids, mask, pixels = pad_batch(samples, side="left")
    batched = model.generate(input_ids, mask, pixels, max_new_tokens=8, eos_token_id=-1)
    for row, (ids, images) in enumerate(samples):
        alone = model.generate(
            torch.tensor([ids]), pixel_values=torch.stack(images), max_new_tokens=8, eos_token_id=-1
        )
        assert torch.equal(batched[row], alone[0])


def test_right_padded_batches_are_refused(model):
    samples = sample_inputs(model.config, lengths=[(2, 6), (7, 3)], seed=3)
    input_ids, mask, pixels = pad_batch(samples, side="right")
    with pytest.raises(ValueError, match="left-padded"):
        model.generate(input_ids, mask, pixels, max_new_tokens=2)


def test_eos_stops_rows_and_pads_them(model):
    ((ids, images),) = sample_inputs(model.config, seed=4)
    input_ids, pixels = torch.tensor([ids]), torch.stack(images)
    free = model.generate(input_ids, pixel_values=pixels, max_new_tokens=6, eos_token_id=-1)
    eos = int(free[0, 2])  # pretend the third generated token is EOS
    stopped = model.generate(input_ids, pixel_values=pixels, max_new_tokens=6, eos_token_id=eos)
    first = free[0].tolist().index(eos)
    assert stopped[0].tolist() == free[0, : first + 1].tolist()


def test_sampling_is_seeded_and_respects_top_k(model):
    ((ids, images),) = sample_inputs(model.config, seed=5)
    kwargs = dict(
        pixel_values=torch.stack(images), max_new_tokens=10, do_sample=True, temperature=1.5, eos_token_id=-1
    )
    a = model.generate(torch.tensor([ids]), generator=torch.Generator().manual_seed(0), **kwargs)
    b = model.generate(torch.tensor([ids]), generator=torch.Generator().manual_seed(0), **kwargs)
    assert torch.equal(a, b)
    greedy = model.generate(
        torch.tensor([ids]), pixel_values=torch.stack(images), max_new_tokens=10, eos_token_id=-1
    )
    top1 = model.generate(torch.tensor([ids]), generator=torch.Generator().manual_seed(1), top_k=1, **kwargs)
    assert torch.equal(top1, greedy)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(torch.tensor([ids]), pixel_values=torch.stack(images), do_sample=True, temperature=0)


def test_cache_capacity_and_growth():
    grow, fixed = KVCache(1), KVCache(1, capacity=5)
    for step in range(3):
        k = torch.full((1, 2, 1 + (step == 0), 4), float(step))
        a, _ = grow.update(0, k, k)
        b, _ = fixed.update(0, k, k)
        assert torch.equal(a, b)
    assert fixed.length == 4
    with pytest.raises(RuntimeError, match="capacity"):
        fixed.update(0, torch.zeros(1, 2, 2, 4), torch.zeros(1, 2, 2, 4))


def test_the_cache_is_returned_and_taken_under_both_names(model):
    """transformers ≥ 5.24 renames ModelOutput's `past_key_values` to `cache`: the output field is `cache`, and
    forward takes the cache as `cache=` or `past_key_values=` with the same result."""
    ((ids, images),) = sample_inputs(model.config, lengths=[(4, 3)], seed=4)
    input_ids, pixels = torch.tensor([ids]), torch.stack(images)
    with torch.no_grad():
        prompt = model(input_ids=input_ids, pixel_values=pixels, use_cache=True)
        assert isinstance(prompt.cache, KVCache) and prompt.cache.length == prompt.attention_mask.shape[1]
        token = prompt.logits[:, -1].argmax(-1, keepdim=True)
        mask = torch.ones(1, prompt.cache.length + 1, dtype=torch.long)
        by_new_name = model(input_ids=token, attention_mask=mask, cache=prompt.cache, use_cache=False).logits
        again = model(input_ids=input_ids, pixel_values=pixels, use_cache=True).cache
        by_old_name = model(
            input_ids=token, attention_mask=mask, past_key_values=again, use_cache=False
        ).logits
    assert torch.equal(by_new_name, by_old_name)
    with pytest.raises(ValueError, match="not both"):
        model(input_ids=token, cache=prompt.cache, past_key_values=again)
