"""Input handling invariants: placeholder counts, pixel layouts, labels, attention implementations, dtypes."""

import pytest
import torch

from cdreasoning.constants import IGNORE_INDEX
from tests.model.helpers import pad_batch, random_model, sample_inputs, small_config


@pytest.fixture(scope="module")
def model():
    return random_model(small_config(), seed=7)


def test_placeholder_count_mismatch_names_both_counts(model):
    ((ids, images),) = sample_inputs(model.config, images_per_sample=2)
    with pytest.raises(ValueError, match=r"2 image placeholder\(s\) .* but 3 image\(s\)"):
        model(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images + images[:1]))
    with pytest.raises(ValueError, match=r"2 image placeholder\(s\) .* but 0 image\(s\)"):
        model(input_ids=torch.tensor([ids]))


def test_pixel_value_layouts_are_equivalent(model):
    samples = sample_inputs(model.config, lengths=[(3, 3), (3, 3)], seed=1)
    input_ids, mask, flat = pad_batch(samples)
    with torch.no_grad():
        reference = model(input_ids=input_ids, attention_mask=mask, pixel_values=flat).logits
        five_d = model(
            input_ids=input_ids, attention_mask=mask, pixel_values=flat.view(2, 2, *flat.shape[1:])
        ).logits
        as_list = model(input_ids=input_ids, attention_mask=mask, pixel_values=[flat[:2], flat[2:]]).logits
        alias = model(input_ids=input_ids, attention_mask=mask, images=flat).logits
    for other in (five_d, as_list, alias):
        assert torch.equal(reference, other)


def test_image_order_matters(model):
    ((ids, images),) = sample_inputs(model.config, seed=2)
    with torch.no_grad():
        ab = model(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images)).logits
        ba = model(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images[::-1])).logits
    assert not torch.allclose(ab, ba)


def test_expanded_sequence_layout(model):
    ((ids, images),) = sample_inputs(model.config, lengths=[(3, 2)], seed=3)
    labels = torch.tensor([ids]).clamp(min=0)
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images), labels=labels)
    k = model.config.image_tokens
    assert out.logits.shape[1] == len(ids) + 2 * (k - 1)
    first_image = ids.index(-200)
    expanded = out.labels[0]
    assert (expanded[first_image : first_image + 2 * k] == IGNORE_INDEX).all()
    assert expanded[:first_image].tolist() == ids[:first_image]
    assert expanded[first_image + 2 * k :].tolist() == ids[first_image + 2 :]
    assert torch.isfinite(out.loss)


def test_loss_ignores_padding_and_images_and_supports_token_normalisation(model):
    samples = sample_inputs(model.config, lengths=[(2, 5), (6, 2)], seed=4)
    input_ids, mask, pixels = pad_batch(samples)
    labels = input_ids.clone().masked_fill(input_ids < 0, IGNORE_INDEX)
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=mask, pixel_values=pixels, labels=labels)
        tokens = int((out.labels[:, 1:] != IGNORE_INDEX).sum())
        summed = model(
            input_ids=input_ids, attention_mask=mask, pixel_values=pixels, labels=labels, num_items_in_batch=1
        ).loss
    assert out.labels[out.attention_mask == 0].eq(IGNORE_INDEX).all()
    assert torch.allclose(summed / tokens, out.loss, atol=1e-6)


def test_sdpa_and_eager_agree_on_padded_batches(model):
    samples = sample_inputs(model.config, lengths=[(2, 5), (6, 2)], seed=5)
    input_ids, mask, pixels = pad_batch(samples, side="left")
    with torch.no_grad():
        model.set_attention_implementation("eager")
        eager = model(input_ids=input_ids, attention_mask=mask, pixel_values=pixels)
        model.set_attention_implementation("sdpa")
        sdpa = model(input_ids=input_ids, attention_mask=mask, pixel_values=pixels)
    valid = sdpa.attention_mask.bool()
    assert (eager.logits[valid] - sdpa.logits[valid]).abs().max() < 1e-5
    with pytest.raises(ValueError, match="unknown attention"):
        model.set_attention_implementation("magic")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_forward(dtype):
    model = random_model(small_config(), seed=8)
    ((ids, images),) = sample_inputs(model.config, seed=6)
    with torch.no_grad():
        reference = model(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images)).logits
        low = model.to(dtype)(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images)).logits
    assert low.dtype == dtype
    assert torch.isfinite(low).all()
    assert torch.corrcoef(torch.stack([low.float().flatten(), reference.flatten()]))[0, 1] > 0.99


def test_gradient_checkpointing_gives_same_gradients():
    config = small_config()
    ((ids, images),) = sample_inputs(config, seed=9)
    labels = torch.tensor([ids]).masked_fill(torch.tensor([ids]) < 0, IGNORE_INDEX)
    grads = []
    for checkpointing in (False, True):
        model = random_model(config, seed=10).train()
        if checkpointing:
            enable = getattr(model, "activation_checkpointing_enable", None)  # transformers ≥ 5.20
            if enable is not None:
                enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            layers = [
                m
                for m in model.modules()
                if hasattr(m, "gradient_checkpointing") and m.gradient_checkpointing
            ]
            # decoder, vision and abstractor layers are all checkpointed
            assert {type(m).__name__ for m in layers} >= {"DecoderLayer", "VisionLayer", "AbstractorLayer"}
        out = model(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images), labels=labels)
        out.loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-6), name
