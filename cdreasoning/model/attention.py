"""Scaled dot-product attention behind one function, with three implementations.

Shapes (b batch, h heads, q query length, k key length, d head dim):

    attend(query [b,h,q,d], key [b,h,k,d], value [b,h,k,d], mask: AttentionMask, implementation) -> [b,h,q,d]

- "sdpa" (default): `torch.nn.functional.scaled_dot_product_attention`. With no padding it runs with
  `is_causal`, which lets PyTorch pick its flash / memory-efficient kernels on GPU.
- "eager": softmax(QKᵀ/√d)V written out, softmax in float32 (what the original mPLUG-Owl2 code computes); slow,
  kept as a reference.
- "flash_attention_2": the flash-attn package (CUDA, fp16/bf16 only). Padded batches are un-padded and run
  through `flash_attn_varlen_func` so padding costs nothing. Imported lazily: the package is optional.

The decoder's mask is built once per forward (`AttentionMask.build`) and shared by every layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AttentionMask:
    """What each query may attend to.

    causal:      queries see keys at positions ≤ their own (aligned to the end of the key sequence, so a
                 query block that follows a KV cache sees the whole cache).
    key_valid:   bool [b, k], False at padding keys; None when nothing is padded.
    dense:       bool [b, 1, q, k] (True = attend) for sdpa/eager when there is padding; None otherwise.
    """

    causal: bool
    key_valid: torch.Tensor | None = None
    dense: torch.Tensor | None = None

    @classmethod
    def full(cls) -> AttentionMask:
        """Bidirectional attention over everything (vision tower, abstractor)."""
        return cls(causal=False)

    @classmethod
    def build(cls, key_valid: torch.Tensor | None, query_length: int, implementation: str) -> AttentionMask:
        """Causal mask over `key_valid` [b, k] (k = cached + new tokens) for the last `query_length` tokens."""
        # No padding: the causal flag alone lets sdpa / flash
        # pick their fused kernels (no dense mask is built).
        if key_valid is None or bool(key_valid.all()):
            return cls(causal=True)
        key_valid = key_valid.bool()
        # flash-attn takes the padding as per-row lengths (it unpads and runs varlen), never a dense mask.
        if implementation == "flash_attention_2":
            return cls(causal=True, key_valid=key_valid)
        k = key_valid.shape[1]
        # With a KV cache the queries are the *last* query_length of the k positions; causality compares
        # absolute positions, so query i sees keys 0 … (k - query_length + i).
        q_pos = torch.arange(k - query_length, k, device=key_valid.device)
        k_pos = torch.arange(k, device=key_valid.device)
        # [1, 1, q, k] causality & [b, 1, 1, k] valid keys → [b, 1, q, k], broadcast over heads.
        dense = (k_pos[None, :] <= q_pos[:, None])[None, None] & key_valid[:, None, None, :]
        # A padding query (left padding) would see no key at all and softmax would give NaN; let it see
        # itself. Its output is never used: it is masked everywhere downstream.
        dense = dense | (k_pos[None, :] == q_pos[:, None])[None, None]
        return cls(causal=True, key_valid=key_valid, dense=dense)


def attend(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: AttentionMask,
    implementation: str = "sdpa",
    dropout: float = 0.0,
) -> torch.Tensor:
    """Attention output [b, h, q, d]; key/value may have fewer heads (grouped-query), repeated here."""
    if key.shape[1] != query.shape[1]:
        # Grouped-query attention: query head j uses KV head j // repeat (HF LLaMA's repeat_kv order).
        repeat = query.shape[1] // key.shape[1]
        key = key.repeat_interleave(repeat, dim=1)
        value = value.repeat_interleave(repeat, dim=1)
    if implementation == "sdpa":
        return _sdpa(query, key, value, mask, dropout)
    if implementation == "eager":
        return _eager(query, key, value, mask, dropout)
    if implementation == "flash_attention_2":
        return _flash(query, key, value, mask, dropout)
    raise ValueError(f"unknown attention implementation {implementation!r}")


def _sdpa(query, key, value, mask: AttentionMask, dropout: float) -> torch.Tensor:
    q_len, k_len = query.shape[2], key.shape[2]
    # The dense mask already combines causality and padding (True = attend).
    if mask.dense is not None:
        return F.scaled_dot_product_attention(query, key, value, attn_mask=mask.dense, dropout_p=dropout)
    # q_len == 1 (a generation step) needs no mask: the single query may see every cached key.
    if mask.causal and q_len > 1:
        # sdpa's is_causal is aligned top-left, which is right
        # only when queries and keys have the same length.
        if q_len == k_len:
            return F.scaled_dot_product_attention(query, key, value, is_causal=True, dropout_p=dropout)
        # A query block after a cache: causal aligned to the end of the keys.
        q_pos = torch.arange(k_len - q_len, k_len, device=query.device)
        causal = torch.arange(k_len, device=query.device)[None, :] <= q_pos[:, None]
        return F.scaled_dot_product_attention(query, key, value, attn_mask=causal, dropout_p=dropout)
    return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout)


def _eager(query, key, value, mask: AttentionMask, dropout: float) -> torch.Tensor:
    q_len, k_len = query.shape[2], key.shape[2]
    scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(query.shape[-1])
    allowed = mask.dense
    if allowed is None and mask.causal and q_len > 1:
        q_pos = torch.arange(k_len - q_len, k_len, device=query.device)
        allowed = torch.arange(k_len, device=query.device)[None, :] <= q_pos[:, None]
    if allowed is not None:
        # finfo.min rather than -inf: a fully masked row would give a uniform softmax instead of NaN.
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    # Softmax in float32 then back to the input dtype, as the original's eager LLaMA attention.
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    if dropout:
        probs = F.dropout(probs, p=dropout)
    return torch.matmul(probs, value)


def _flash(query, key, value, mask: AttentionMask, dropout: float) -> torch.Tensor:
    try:
        from flash_attn import flash_attn_func, flash_attn_varlen_func
    except ImportError as exc:  # pragma: no cover - GPU-only path
        raise RuntimeError("flash_attention_2 needs the flash-attn package (pip install flash-attn)") from exc
    if query.dtype not in (torch.float16, torch.bfloat16):
        raise RuntimeError(
            f"flash_attention_2 runs in float16/bfloat16, not {query.dtype}; use attention='sdpa'"
        )
    # flash-attn wants [b, len, h, d]
    q, k, v = (t.transpose(1, 2) for t in (query, key, value))
    if mask.key_valid is None:
        # flash-attn (≥ 2.1) aligns causal bottom-right, so a query block after a cache needs no offset.
        out = flash_attn_func(q, k, v, dropout_p=dropout, causal=mask.causal and q.shape[1] > 1)
        return out.transpose(1, 2)
    # Un-pad: keep valid keys; a query row is valid when its own position is (the last q positions).
    b, q_len, heads, d = q.shape
    k_len = k.shape[1]
    key_valid = mask.key_valid
    query_valid = key_valid[:, k_len - q_len :]
    q_idx = query_valid.reshape(-1).nonzero().squeeze(1)
    k_idx = key_valid.reshape(-1).nonzero().squeeze(1)
    # Per-row lengths → cumulative offsets [b + 1] with a leading 0: flash-attn's varlen layout.
    q_lens = query_valid.sum(1, dtype=torch.int32)
    k_lens = key_valid.sum(1, dtype=torch.int32)
    cu_q = F.pad(q_lens.cumsum(0, dtype=torch.int32), (1, 0))
    cu_k = F.pad(k_lens.cumsum(0, dtype=torch.int32), (1, 0))
    out_unpadded = flash_attn_varlen_func(
        q.reshape(b * q_len, heads, d).index_select(0, q_idx),
        k.reshape(b * k_len, k.shape[2], d).index_select(0, k_idx),
        v.reshape(b * k_len, v.shape[2], d).index_select(0, k_idx),
        cu_seqlens_q=cu_q,
        cu_seqlens_k=cu_k,
        max_seqlen_q=int(q_lens.max()),
        max_seqlen_k=int(k_lens.max()),
        dropout_p=dropout,
        # causal=True holds with padding removed: each row's queries are the last positions of its keys.
        causal=True,
    )
    # Padding query rows stay zero (never read downstream); real rows go back to their padded places.
    out = q.new_zeros(b * q_len, heads, d).index_copy(0, q_idx, out_unpadded)
    return out.view(b, q_len, heads, d).transpose(1, 2)
