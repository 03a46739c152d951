"""The visual abstractor (`model.visual_abstractor.*`): compresses ViT tokens into a few LLM tokens per image.

    vit_tokens [n, 1 + g², D]  →  llm_tokens [n, Q + 1, H]

Q learned queries (64) cross-attend to the image tokens in each layer; `visual_fc` maps D → H (the LLM width)
and a learned `vit_eos` token is appended, so each image becomes Q + 1 = 65 LLM tokens.

One layer, exactly as mPLUG-Owl2 computes it (parameter names as in the checkpoints):

    q   = norm1(queries)                         k_in = normk(image tokens)
    kv  = [q ; k_in]                              (keys/values see the queries too)
    attn = softmax((W_q(q + P_q)) (W_k(kv + [P_q ; P_k]))ᵀ / √d) W_v(kv)
    x   = q + out_proj(attn)                      (the residual is the *normed* queries)
    x   = x + w2(ffn_ln(silu(w1(norm2(x))) · w3(norm2(x))))

P_q is a fixed 1-D sin-cos table over the queries, P_k a fixed 2-D sin-cos table over the patch grid with a zero
CLS row; both are persistent buffers (`q_pos_embed`, `k_pos_embed`) saved in the checkpoints. Position tables
are added to query and key inputs only, never to values. norm1/normk/norm2 use LayerNorm's default eps (1e-5),
ffn_ln uses the config's `layer_norm_eps`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from cdreasoning.model.attention import AttentionMask, attend
from cdreasoning.model.configuration import AbstractorConfig


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """[len(positions), dim]: sin of positions·ω in the first half, cos in the second, ω_i = 10000^(−2i/dim)."""
    # float64 as in MAE's numpy helper that the original uses; position_tables casts the result to float32.
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = positions.to(torch.float64).reshape(-1, 1) * omega[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_2d_with_cls(dim: int, grid: int) -> torch.Tensor:
    """[1 + grid², dim]: zero row for CLS, then per patch (row-major) [table(x) ; table(y)], dim/2 each.

    As in the original (MAE's helper), the first half encodes the column (x) coordinate.
    """
    ys, xs = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    table = torch.cat([sincos_1d(dim // 2, xs.reshape(-1)), sincos_1d(dim // 2, ys.reshape(-1))], dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=table.dtype), table], dim=0)


class AbstractorMLP(nn.Module):
    """SwiGLU with a LayerNorm over the hidden width: w2(ffn_ln(silu(w1 x) · w3 x))."""

    def __init__(self, config: AbstractorConfig):
        super().__init__()
        self.w1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.w2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.w3 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_ln = nn.LayerNorm(config.intermediate_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(self.ffn_ln(nn.functional.silu(self.w1(x)) * self.w3(x)))


class AbstractorAttention(nn.Module):
    """Multi-head cross-attention with sin-cos positions on queries and keys (`crossattention.attention`)."""

    def __init__(self, config: AbstractorConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout = config.attention_probs_dropout_prob
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.encoder_hidden_size, config.hidden_size)
        self.value = nn.Linear(config.encoder_hidden_size, config.hidden_size)
        # Buffers, not parameters: fixed sin-cos tables (filled by _init_weights) that the checkpoints store.
        self.register_buffer("q_pos_embed", torch.zeros(config.num_learnable_queries, config.hidden_size))
        self.register_buffer("k_pos_embed", torch.zeros(config.grid_size**2 + 1, config.hidden_size))
        self.attention_implementation = "sdpa"

    def position_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed sin-cos tables this module's buffers must hold: ([Q, D], [1 + g², D]) in float32."""
        dim = self.q_pos_embed.shape[1]
        # The grid follows from the table's size (1 + g² rows),
        # so the tables depend on nothing but the buffers.
        grid = round((self.k_pos_embed.shape[0] - 1) ** 0.5)
        q_pos = sincos_1d(dim, torch.arange(self.q_pos_embed.shape[0]))
        return q_pos.float(), sincos_2d_with_cls(dim, grid).float()

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, queries: torch.Tensor, keys_values: torch.Tensor) -> torch.Tensor:
        """queries [n, Q, D] (normed), keys_values [n, Q + 1 + g², D] = [normed queries ; normed image tokens]."""
        q_pos = self.q_pos_embed.to(queries.dtype)
        # The keys are [queries ; image tokens], so their positions are [P_q ; P_k] in the same order.
        kv_pos = torch.cat([q_pos, self.k_pos_embed.to(queries.dtype)], dim=0)
        query = self._heads(self.query(queries + q_pos))
        key = self._heads(self.key(keys_values + kv_pos))
        value = self._heads(self.value(keys_values))
        out = attend(
            query,
            key,
            value,
            # Full attention: the queries see every image token and each other (no causality, no padding).
            AttentionMask.full(),
            self.attention_implementation,
            dropout=self.dropout if self.training else 0.0,
        )
        return out.transpose(1, 2).reshape(queries.shape)


class AbstractorOutput(nn.Module):
    """Attention output projection + residual, then a LayerNorm'd MLP + residual: [n, Q, D] → [n, Q, D]."""

    def __init__(self, config: AbstractorConfig):
        super().__init__()
        self.out_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.norm2 = nn.LayerNorm(config.hidden_size)
        self.mlp = AbstractorMLP(config)

    def forward(self, attention_out: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        # The residual is the *normed* queries the caller passes in, as mPLUG-Owl2 computes it.
        hidden = residual + self.out_proj(attention_out)
        return hidden + self.mlp(self.norm2(hidden))


class AbstractorCrossAttention(nn.Module):
    """The learned queries attend to [queries; image tokens] (mPLUG-Owl2's abstractor): [n, Q, D] → [n, Q, D]."""

    def __init__(self, config: AbstractorConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden_size)
        self.normk = nn.LayerNorm(config.hidden_size)
        self.attention = AbstractorAttention(config)
        self.output = AbstractorOutput(config)

    def forward(self, queries: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        queries = self.norm1(queries)
        # Keys/values include the queries themselves, so the queries also attend to each other.
        keys_values = torch.cat([queries, self.normk(image_tokens)], dim=1)
        return self.output(self.attention(queries, keys_values), queries)


class AbstractorLayer(GradientCheckpointingLayer):
    """One abstractor block (cross-attention + MLP), checkpointable under gradient checkpointing."""

    def __init__(self, config: AbstractorConfig):
        super().__init__()
        self.crossattention = AbstractorCrossAttention(config)

    def forward(self, queries: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        return self.crossattention(queries, image_tokens)


class AbstractorEncoder(nn.Module):
    """The stack of abstractor layers; the queries are refined layer by layer against the same image tokens."""

    def __init__(self, config: AbstractorConfig):
        super().__init__()
        self.layers = nn.ModuleList([AbstractorLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, queries: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            queries = layer(queries, image_tokens)
        return queries


class VisualAbstractor(nn.Module):
    """ViT tokens [n, 1 + g², D] → LLM tokens [n, Q + 1, H] (Q queries through `visual_fc`, then `vit_eos`)."""

    def __init__(self, config: AbstractorConfig, language_hidden_size: int):
        super().__init__()
        self.config = config
        self.encoder = AbstractorEncoder(config)
        self.visual_fc = nn.Linear(config.hidden_size, language_hidden_size)
        self.query_embeds = nn.Parameter(torch.zeros(1, config.num_learnable_queries, config.hidden_size))
        self.vit_eos = nn.Parameter(torch.zeros(1, 1, language_hidden_size))

    def forward(self, image_tokens: torch.Tensor) -> torch.Tensor:
        n = image_tokens.shape[0]
        # One set of learned queries shared by every image, broadcast over the n images (no copy).
        queries = self.query_embeds.to(image_tokens.dtype).expand(n, -1, -1)
        queries = self.encoder(queries, image_tokens)
        projected = self.visual_fc(queries)
        # vit_eos is appended after the projection, in LLM
        # width: it closes each image's tokens for the decoder.
        eos = self.vit_eos.to(projected.dtype).expand(n, -1, -1)
        return torch.cat([projected, eos], dim=1)
