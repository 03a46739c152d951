"""The vision tower (`model.vision_model.*`): a CLIP-style pre-LN ViT, as in mPLUG-Owl2.

    pixel_values [n, 3, S, S]  →  tokens [n, 1 + (S/p)², D]

n images, S = image_size (448), p = patch_size (14), D = hidden_size (1024). Patch embedding is a bias-free
conv; a learned CLS token and learned absolute positions are added, then `pre_layernorm`, the layers, and
`post_layernorm` over *all* tokens (the abstractor reads every token, CLS included).

Parameter names follow the released checkpoints exactly (`embeddings.patch_embed`, `encoder.layers.N.self_attn.
query_key_value`, …). The fused QKV projection is laid out per head as [q, k, v] (its output reshapes to
[…, heads, 3, head_dim]), which is how the original splits it.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from cdreasoning.model.attention import AttentionMask, attend
from cdreasoning.model.configuration import VisionConfig


class QuickGELU(nn.Module):
    """x·σ(1.702x), CLIP's activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class VisionEmbeddings(nn.Module):
    """CLIP patch embedding + class token + learned positions: [n, 3, S, S] → [n, 1 + (S/p)², D]."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.patch_embed = nn.Conv2d(
            config.num_channels, config.hidden_size, config.patch_size, stride=config.patch_size, bias=False
        )
        self.position_embedding = nn.Parameter(torch.zeros(1, config.num_positions, config.hidden_size))
        self.pre_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        if pixel_values.dim() != 4 or pixel_values.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"pixel_values must be [n, 3, {self.image_size}, {self.image_size}] (this checkpoint's image_size); "
                f"got {list(pixel_values.shape)}"
            )
        # Cast to the conv's dtype: the image processor emits float32 while the model may run in bf16 / fp16.
        patches = self.patch_embed(pixel_values.to(self.patch_embed.weight.dtype))  # [n, D, g, g]
        patches = patches.flatten(2).transpose(1, 2)  # [n, g², D]
        cls = self.cls_token.expand(patches.shape[0], 1, -1).to(patches.dtype)
        # Absolute positions for one fixed S (no interpolation): hence the size check above.
        tokens = torch.cat([cls, patches], dim=1) + self.position_embedding.to(patches.dtype)
        return self.pre_layernorm(tokens)


class VisionAttention(nn.Module):
    """Bidirectional multi-head self-attention over the patch tokens (fused QKV, as in the checkpoints)."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout = config.attention_dropout
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.attention_implementation = "sdpa"

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        n, length, width = hidden.shape
        qkv = self.query_key_value(hidden).view(n, length, self.num_heads, 3, self.head_dim)
        query, key, value = qkv.permute(3, 0, 2, 1, 4).unbind(0)  # each [n, heads, L, d]
        out = attend(
            query,
            key,
            value,
            AttentionMask.full(),
            self.attention_implementation,
            dropout=self.dropout if self.training else 0.0,
        )
        return self.dense(out.transpose(1, 2).reshape(n, length, width))


class VisionMLP(nn.Module):
    """CLIP's feed-forward: fc2(QuickGELU(fc1(x)))."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = QuickGELU()
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation(self.fc1(x)))


class VisionLayer(GradientCheckpointingLayer):
    """Pre-LN block: x + attn(LN(x)), then + mlp(LN(·))."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = VisionAttention(config)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = VisionMLP(config)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden + self.self_attn(self.input_layernorm(hidden))
        return hidden + self.mlp(self.post_attention_layernorm(hidden))


class VisionEncoder(nn.Module):
    """The stack of CLIP ViT layers: [n, T, D] → [n, T, D]."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.layers = nn.ModuleList([VisionLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            hidden = layer(hidden)
        return hidden


class VisionTower(nn.Module):
    """pixel_values [n, 3, S, S] → post-LN tokens [n, 1 + g², D]."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.config = config
        self.embeddings = VisionEmbeddings(config)
        self.encoder = VisionEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.post_layernorm(self.encoder(self.embeddings(pixel_values)))
