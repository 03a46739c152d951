"""Small random mPLUG-Owl2 configs of several shapes, built through the real config class."""

from __future__ import annotations

import torch

from cdreasoning.model import MPLUGOwl2Config, MPLUGOwl2ForCausalLM


def small_config(
    *,
    layers=2,
    hidden=64,
    heads=4,
    kv_heads=None,
    vocab=300,
    image=32,
    patch=8,
    queries=4,
    vit_layers=2,
    abstractor_layers=2,
    vit_hidden=48,
    theta=10000.0,
) -> MPLUGOwl2Config:
    grid = image // patch
    return MPLUGOwl2Config(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden + 8,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        rope_theta=theta,
        pad_token_id=0,
        visual_config={
            "visual_model": {
                "hidden_size": vit_hidden,
                "intermediate_size": 2 * vit_hidden,
                "num_hidden_layers": vit_layers,
                "num_attention_heads": 4,
                "image_size": image,
                "patch_size": patch,
            },
            "visual_abstractor": {
                "hidden_size": vit_hidden,
                "encoder_hidden_size": vit_hidden,
                "intermediate_size": 3 * vit_hidden,
                "num_hidden_layers": abstractor_layers,
                "num_attention_heads": 4,
                "num_learnable_queries": queries,
                "grid_size": grid,
            },
        },
    )


def random_model(config: MPLUGOwl2Config, seed: int = 0) -> MPLUGOwl2ForCausalLM:
    """A model whose every parameter is random (norm weights and position tables included), in eval mode."""
    torch.manual_seed(seed)
    model = MPLUGOwl2ForCausalLM(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name or ".norm" in name:
                param.add_(0.1 * torch.randn_like(param))
            elif name.endswith(".bias"):
                param.normal_(0, 0.05)
            elif name.endswith(("cls_token", "position_embedding", "query_embeds", "vit_eos")):
                param.normal_(0, 0.5)
    return model.eval()


def sample_inputs(config: MPLUGOwl2Config, lengths=((3, 4),), images_per_sample=2, seed=0):
    """Token lists with `images_per_sample` sentinels each, and their images.

    lengths: per sample, (text tokens before the images, text tokens after)."""
    gen = torch.Generator().manual_seed(seed)
    samples = []
    size = config.vision.image_size
    for before, after in lengths:
        ids = [1] + torch.randint(3, config.vocab_size, (before,), generator=gen).tolist()
        ids += [-200] * images_per_sample
        ids += torch.randint(3, config.vocab_size, (after,), generator=gen).tolist()
        images = [torch.randn(3, size, size, generator=gen) for _ in range(images_per_sample)]
        samples.append((ids, images))
    return samples


def pad_batch(samples, side="right", pad_id=0):
    """input_ids [b, t], attention_mask [b, t], pixel_values [n, 3, S, S] from (ids, images) samples."""
    width = max(len(ids) for ids, _ in samples)
    rows, masks = [], []
    for ids, _ in samples:
        pad = [pad_id] * (width - len(ids))
        ones, zeros = [1] * len(ids), [0] * len(pad)
        rows.append(ids + pad if side == "right" else pad + ids)
        masks.append(ones + zeros if side == "right" else zeros + ones)
    pixels = torch.stack([img for _, imgs in samples for img in imgs])
    return torch.tensor(rows), torch.tensor(masks), pixels
