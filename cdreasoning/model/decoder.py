"""The modality-adaptive LLaMA-2 decoder blocks of mPLUG-Owl2 (`model.layers.N.*`).

Shapes: b batch, L tokens (text and visual), H hidden, h heads, d head dim.

Every layer is a LLaMA layer except that the key/value projections and both RMSNorms exist twice, as
`….multiway.0` (text tokens) and `….multiway.1` (visual tokens, each image's `vit_eos` included). `q_proj`,
`o_proj` and the MLP are shared. Each token is routed by its modality; `ModalityRouting` gathers the indices of
each modality once per forward, and every multiway module then runs on its subset with one `index_select` /
`index_copy` (no Python loop over tokens). A text-only step (generation after the prompt) skips the routing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from cdreasoning.model.attention import AttentionMask, attend
from cdreasoning.model.configuration import MPLUGOwl2Config
from cdreasoning.model.kv_cache import KVCache


class RMSNorm(nn.Module):
    """LLaMA's RMSNorm, computed in float32 and cast back (as the original)."""

    def __init__(self, hidden_size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        # Mean of squares in float32: in fp16 the squares of large activations overflow.
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        # Cast back before scaling by the weight, as HF LLaMA does.
        return self.weight * x32.to(dtype)


@dataclass
class ModalityRouting:
    """Which tokens are visual, as flat indices into [b·L]. Built once per forward."""

    mode: str  # "text" | "visual" | "mixed"
    text_index: torch.Tensor | None = None
    visual_index: torch.Tensor | None = None

    @classmethod
    def build(cls, visual: torch.Tensor | None, force_mixed: bool = False) -> ModalityRouting:
        """visual: bool [b, L]. `force_mixed` runs both branches even if one is empty (ZeRO-3 needs every rank
        to use the same parameters in every step, so training always routes through both)."""
        # No visual mask (a text-only continuation step): behave as all text.
        if visual is None:
            visual = torch.zeros(1, 1, dtype=torch.bool)
        flat = visual.reshape(-1)
        if not force_mixed:
            # These bool() calls sync with the GPU once per forward,
            # not per layer: one routing serves every layer.
            any_visual = bool(flat.any())
            if not any_visual:
                return cls("text")
            if bool(flat.all()):
                return cls("visual")
        return cls(
            "mixed",
            # Flat indices into [b·L], ascending (nonzero's order),
            # so index_copy puts every token back in place.
            text_index=(~flat).nonzero().squeeze(1),
            visual_index=flat.nonzero().squeeze(1),
        )

    def apply(self, x: torch.Tensor, text_module: nn.Module, visual_module: nn.Module) -> torch.Tensor:
        """x [b, L, in] → [b, L, out], text tokens through `text_module`, visual tokens through `visual_module`."""
        if self.mode == "text":
            return text_module(x)
        if self.mode == "visual":
            return visual_module(x)
        flat = x.reshape(-1, x.shape[-1])
        text_out = text_module(flat.index_select(0, self.text_index))
        # Cast to the text branch's dtype so both halves fit
        # one output tensor (the branches' dtypes may differ).
        visual_out = visual_module(flat.index_select(0, self.visual_index)).to(text_out.dtype)
        # new_empty is safe: the text and visual index sets together cover every position exactly once.
        out = text_out.new_empty(flat.shape[0], text_out.shape[-1])
        out = out.index_copy(0, self.text_index, text_out).index_copy(0, self.visual_index, visual_out)
        return out.view(*x.shape[:-1], text_out.shape[-1])


class Multiway(nn.Module):
    """Two copies of a module: `multiway.0` for text tokens, `multiway.1` for visual tokens."""

    def __init__(self, text_module: nn.Module, visual_module: nn.Module):
        super().__init__()
        # A ModuleList named `multiway` gives the checkpoints' parameter names (`k_proj.multiway.1.weight`).
        self.multiway = nn.ModuleList([text_module, visual_module])

    def forward(self, x: torch.Tensor, routing: ModalityRouting) -> torch.Tensor:
        return routing.apply(x, self.multiway[0], self.multiway[1])


def rotary_cos_sin(config: MPLUGOwl2Config, position_ids: torch.Tensor, dtype: torch.dtype):
    """cos, sin [b, 1, L, d] for RoPE (θ = rope_theta; linear scaling divides positions by its factor).

    Computed from the positions each forward (cheap) rather than cached in a buffer, so a model built on the
    meta device or sharded by ZeRO-3 needs no special handling.
    """
    dim = config.head_dim
    inv_freq = 1.0 / (
        config.rope_theta ** (torch.arange(0, dim, 2, device=position_ids.device, dtype=torch.float32) / dim)
    )
    positions = position_ids.to(torch.float32)
    # Linear RoPE scaling (position interpolation): positions shrink by the factor to stretch the context.
    if config.rope_linear_factor is not None:
        positions = positions / config.rope_linear_factor
    freqs = positions[..., None] * inv_freq  # [b, L, d/2]
    # The halves are duplicated, not interleaved: HF LLaMA's
    # layout, in which _rotate_half pairs i with i + d/2.
    emb = torch.cat([freqs, freqs], dim=-1)[:, None]  # [b, 1, L, d]
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + _rotate_half(x) * sin


class DecoderAttention(nn.Module):
    """Causal self-attention with modality-adaptive K/V projections (text and visual tokens use their own
    weights, chosen by `routing`), rotary positions, grouped KV heads and an optional KV cache."""

    def __init__(self, config: MPLUGOwl2Config, layer_index: int):
        super().__init__()
        self.layer_index = layer_index
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.dropout = config.attention_dropout
        bias = config.attention_bias
        kv_width = self.num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=bias)
        # Keys and values have their own text and visual weights (modality-adaptive); queries are shared.
        self.k_proj = Multiway(
            nn.Linear(config.hidden_size, kv_width, bias=bias),
            nn.Linear(config.hidden_size, kv_width, bias=bias),
        )
        self.v_proj = Multiway(
            nn.Linear(config.hidden_size, kv_width, bias=bias),
            nn.Linear(config.hidden_size, kv_width, bias=bias),
        )
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=bias)
        self.attention_implementation = "sdpa"

    def forward(self, hidden, routing, rotary, mask: AttentionMask, cache: KVCache | None) -> torch.Tensor:
        b, length, _ = hidden.shape
        query = self.q_proj(hidden).view(b, length, self.num_heads, self.head_dim).transpose(1, 2)
        key = self.k_proj(hidden, routing).view(b, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        value = self.v_proj(hidden, routing).view(b, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = rotary
        # RoPE before caching: cached keys keep their rotation, so later steps rotate only the new keys.
        query, key = apply_rotary(query, cos, sin), apply_rotary(key, cos, sin)
        if cache is not None:
            # The cache returns this layer's keys/values so far: [b, kv_heads, past + L, d].
            key, value = cache.update(self.layer_index, key, value)
        out = attend(
            query,
            key,
            value,
            mask,
            self.attention_implementation,
            dropout=self.dropout if self.training else 0.0,
        )
        # [b, h, L, d] → [b, L, h·d] for o_proj.
        return self.o_proj(out.transpose(1, 2).reshape(b, length, self.num_heads * self.head_dim))


class DecoderMLP(nn.Module):
    """LLaMA's SwiGLU feed-forward: down(silu(gate(x)) · up(x))."""

    def __init__(self, config: MPLUGOwl2Config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(GradientCheckpointingLayer):
    """h + attn(norm_m(h)), then + mlp(norm_m(·)), with norm_m the RMSNorm of each token's modality."""

    def __init__(self, config: MPLUGOwl2Config, layer_index: int):
        super().__init__()
        eps = config.rms_norm_eps
        self.self_attn = DecoderAttention(config, layer_index)
        self.mlp = DecoderMLP(config)
        self.input_layernorm = Multiway(RMSNorm(config.hidden_size, eps), RMSNorm(config.hidden_size, eps))
        self.post_attention_layernorm = Multiway(
            RMSNorm(config.hidden_size, eps), RMSNorm(config.hidden_size, eps)
        )

    def forward(self, hidden, routing, rotary, mask, cache=None) -> torch.Tensor:
        # Both norms pick per-modality weights; attention's Q/O
        # and the MLP are shared by text and visual tokens.
        hidden = hidden + self.self_attn(self.input_layernorm(hidden, routing), routing, rotary, mask, cache)
        return hidden + self.mlp(self.post_attention_layernorm(hidden, routing))
