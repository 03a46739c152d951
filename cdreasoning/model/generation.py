"""Text generation from prompts with images, with a KV cache.

    new_tokens = model.generate(input_ids [b, t], attention_mask [b, t], pixel_values [n, 3, S, S],
                                max_new_tokens=256, do_sample=False, temperature=1.0, top_p=1.0,
                                eos_token_id=2, pad_token_id=0, generator=None)   # → [b, ≤ max_new_tokens]

Batches must be left-padded (the last column is every row's last prompt token). The prompt runs once through the
whole model (images included) and fills the cache; each further step feeds one token per row. Rows that produced
`eos_token_id` are padded with `pad_token_id` afterwards; generation stops when every row has finished.
Greedy decoding (`do_sample=False`) picks the argmax, so it equals a cache-free loop that reruns the full model
on the growing sequence (`use_cache=False` does exactly that, as a reference).
"""

from __future__ import annotations

import torch

from cdreasoning.constants import IMAGE_TOKEN_INDEX
from cdreasoning.model.kv_cache import KVCache
from cdreasoning.model.merge import is_left_padded


def _pick(logits: torch.Tensor, do_sample: bool, temperature: float, top_p: float, top_k: int, generator):
    """Next token per row from logits [b, V]."""
    if not do_sample:
        # Greedy: the argmax of the raw logits, so it matches the cache-free reference token for token.
        return logits.argmax(-1)
    if temperature <= 0:
        raise ValueError("temperature must be > 0 when sampling (use do_sample=False for greedy)")
    # float32 before scaling: in bf16 the division and softmax round noticeably.
    logits = logits.float() / temperature
    if top_k:
        # The k-th largest logit of each row; every logit tied with it is kept.
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # drop a token when the probability mass before it already reaches top_p (keeps at least one)
        drop = (cumulative - sorted_logits.softmax(-1)) >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        # Scatter the filtered logits from sorted order back to vocabulary order.
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    pixel_values=None,
    *,
    max_new_tokens: int = 256,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    if max_new_tokens < 1:
        raise ValueError("max_new_tokens must be ≥ 1")
    config = model.config
    eos_token_id = config.eos_token_id if eos_token_id is None else eos_token_id
    pad_token_id = (
        (config.pad_token_id if config.pad_token_id is not None else 0)
        if pad_token_id is None
        else pad_token_id
    )
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if input_ids.shape[0] > 1 and not bool(attention_mask[:, -1].all()):
        raise ValueError("batched generation needs left-padded prompts (every row's last token must be real)")
    b = input_ids.shape[0]
    # Rows that emitted EOS keep producing pad_token_id, so the output stays rectangular.
    finished = torch.zeros(b, dtype=torch.bool, device=input_ids.device)
    produced = []

    if not use_cache:
        # Reference path: rerun the whole model (images included) on the growing sequence; O(n²), no cache.
        ids, mask = input_ids, attention_mask
        for _ in range(max_new_tokens):
            out = model(input_ids=ids, attention_mask=mask, pixel_values=pixel_values, logits_to_keep=1)
            token = _pick(out.logits[:, -1], do_sample, temperature, top_p, top_k, generator)
            token = token.masked_fill(finished, pad_token_id)
            produced.append(token)
            finished |= token == eos_token_id
            if bool(finished.all()):
                break
            ids = torch.cat([ids, token[:, None]], dim=1)
            mask = torch.cat([mask, mask.new_ones(b, 1)], dim=1)
        return torch.stack(produced, dim=1)

    # The expanded prompt length (each image → image_tokens positions) sizes the cache once.
    images_per_row = (input_ids == IMAGE_TOKEN_INDEX).sum(1)
    prompt_length = int((input_ids.shape[1] + images_per_row * (config.image_tokens - 1)).max())
    # A capacity allocates the buffers once at full size, so no step copies the past (see KVCache.update).
    cache = KVCache(config.num_hidden_layers, capacity=prompt_length + max_new_tokens)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        pixel_values=pixel_values,
        past_key_values=cache,
        use_cache=True,
        # Only the last position's logits are needed to pick the first new token.
        logits_to_keep=1,
    )
    # The model returns the mask of the *expanded* prompt (each image became image_tokens positions); the
    # cache holds keys for exactly those positions, so every later step extends this mask, not the input one.
    key_valid = out.attention_mask
    if b > 1 and key_valid.shape[1] and not bool(key_valid[:, -1].all()) and not is_left_padded(key_valid):
        raise AssertionError("expanded prompt lost its left padding")  # pragma: no cover - merge invariant
    # Rotary positions count real tokens only: a left-padded row must continue at the position it would have
    # alone (its own length - 1), not at the padded width, or batching would change its outputs.
    positions = (key_valid.long().cumsum(-1) - 1).clamp(min=0)[:, -1]
    logits = out.logits[:, -1]
    for step in range(max_new_tokens):
        token = _pick(logits, do_sample, temperature, top_p, top_k, generator)
        token = token.masked_fill(finished, pad_token_id)
        produced.append(token)
        finished |= token == eos_token_id
        # The last token needs no forward: nothing would read its logits.
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        # Every row's new token counts as real, finished rows' pads too: their outputs are replaced by pads.
        key_valid = torch.cat([key_valid, key_valid.new_ones(b, 1)], dim=1)
        positions = positions + 1
        out = model(
            input_ids=token[:, None],
            attention_mask=key_valid,
            position_ids=positions[:, None],
            past_key_values=cache,
            use_cache=True,
        )
        logits = out.logits[:, -1]
    return torch.stack(produced, dim=1)
