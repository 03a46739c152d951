"""A deliberately naive, independent re-statement of the original mPLUG-Owl2 forward pass, for tests only.

It works on a raw state dict (no cdreasoning modules), one sample at a time, with explicit loops and eager
float64 math, following the original code's structure: per-sample splicing of image features at each −200,
per-subway gather for the multiway modules, arange positions, additive causal mask. It is first checked against
the logits the original implementation produced (../shared fixture), then used to check cdreasoning's model on
checkpoints of other sizes, where no original output exists.
"""

from __future__ import annotations

import math

import torch

IMAGE = -200


def _ln(x, sd, prefix, eps):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], sd[prefix + ".weight"], sd[prefix + ".bias"], eps)


def _lin(x, sd, prefix, bias=True):
    w = sd[prefix + ".weight"]
    b = sd.get(prefix + ".bias") if bias else None
    return torch.nn.functional.linear(x, w, b)


def _sincos_check(sd, prefix):
    return sd[prefix + ".q_pos_embed"], sd[prefix + ".k_pos_embed"]


def vision(sd, cfg, pixels):
    """pixels [3, S, S] → [1 + g², D] (one image)."""
    p = "model.vision_model."
    heads = cfg["visual_model"]["num_attention_heads"]
    eps = cfg["visual_model"].get("layer_norm_eps", 1e-6)
    patch = sd[p + "embeddings.patch_embed.weight"]
    x = torch.nn.functional.conv2d(pixels[None], patch, stride=patch.shape[-1])[0]  # [D, g, g]
    x = x.flatten(1).T
    x = torch.cat([sd[p + "embeddings.cls_token"][0], x], 0) + sd[p + "embeddings.position_embedding"][0]
    x = _ln(x, sd, p + "embeddings.pre_layernorm", eps)
    n_layers = cfg["visual_model"]["num_hidden_layers"]
    for i in range(n_layers):
        lp = f"{p}encoder.layers.{i}."
        h = _ln(x, sd, lp + "input_layernorm", eps)
        qkv = _lin(h, sd, lp + "self_attn.query_key_value")
        length, width = h.shape
        hd = width // heads
        qkv = qkv.view(length, heads, 3, hd)
        out = torch.zeros(length, heads, hd, dtype=x.dtype)
        for head in range(heads):
            q, k, v = qkv[:, head, 0], qkv[:, head, 1], qkv[:, head, 2]
            a = torch.softmax(q @ k.T * hd**-0.5, -1)
            out[:, head] = a @ v
        x = x + _lin(out.reshape(length, width), sd, lp + "self_attn.dense")
        h = _ln(x, sd, lp + "post_attention_layernorm", eps)
        h = _lin(h, sd, lp + "mlp.fc1")
        h = h * torch.sigmoid(1.702 * h)
        x = x + _lin(h, sd, lp + "mlp.fc2")
    return _ln(x, sd, p + "post_layernorm", eps)


def abstractor(sd, cfg, tokens):
    """[1 + g², D] → [Q + 1, H]."""
    p = "model.visual_abstractor."
    acfg = cfg["visual_abstractor"]
    heads = acfg["num_attention_heads"]
    eps = acfg.get("layer_norm_eps", 1e-6)
    q = sd[p + "query_embeds"][0]
    for i in range(acfg["num_hidden_layers"]):
        lp = f"{p}encoder.layers.{i}.crossattention."
        qn = _ln(q, sd, lp + "norm1", 1e-5)
        kn = _ln(tokens, sd, lp + "normk", 1e-5)
        kv = torch.cat([qn, kn], 0)
        q_pos, k_pos = _sincos_check(sd, lp + "attention")
        query = _lin(qn + q_pos, sd, lp + "attention.query")
        key = _lin(kv + torch.cat([q_pos, k_pos], 0), sd, lp + "attention.key")
        value = _lin(kv, sd, lp + "attention.value")
        hd = query.shape[1] // heads
        ctx = torch.zeros_like(query)
        for head in range(heads):
            sl = slice(head * hd, (head + 1) * hd)
            a = torch.softmax(query[:, sl] @ key[:, sl].T / math.sqrt(hd), -1)
            ctx[:, sl] = a @ value[:, sl]
        x = qn + _lin(ctx, sd, lp + "output.out_proj")
        h = _ln(x, sd, lp + "output.norm2", 1e-5)
        h = torch.nn.functional.silu(_lin(h, sd, lp + "output.mlp.w1")) * _lin(h, sd, lp + "output.mlp.w3")
        h = _ln(h, sd, lp + "output.mlp.ffn_ln", eps)
        q = x + _lin(h, sd, lp + "output.mlp.w2")
    out = _lin(q, sd, p + "visual_fc")
    return torch.cat([out, sd[p + "vit_eos"][0]], 0)


def _rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _multiway(x, modality, fn0, fn1):
    out = torch.empty(x.shape[0], fn0(x[:1]).shape[-1], dtype=x.dtype)
    for index in range(x.shape[0]):  # one token at a time, like routing per token
        out[index] = (fn1 if modality[index] else fn0)(x[index : index + 1])[0]
    return out


def logits_one(sd, config: dict, input_ids: list[int], images: list[torch.Tensor]) -> torch.Tensor:
    """Logits [L, V] for one unpadded sample; images in order of their −200 sentinels. float64 throughout."""
    sd = {k: v.double() for k, v in sd.items()}
    vcfg = config["visual_config"]
    embeds, modality = [], []
    image_iter = iter(images)
    for token in input_ids:
        if token == IMAGE:
            feats = abstractor(sd, vcfg, vision(sd, vcfg, next(image_iter).double()))
            embeds.append(feats)
            modality += [1] * feats.shape[0]
        else:
            embeds.append(sd["model.embed_tokens.weight"][token][None])
            modality.append(0)
    x = torch.cat(embeds, 0)
    length, hidden = x.shape
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    hd = hidden // heads
    eps = config.get("rms_norm_eps", 1e-6)
    theta = config.get("rope_theta", 10000.0)
    inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.arange(length, dtype=torch.float64)[:, None] * inv[None]
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()

    def rope(t):  # [L, hd]
        half = hd // 2
        return t * cos + torch.cat([-t[:, half:], t[:, :half]], -1) * sin

    causal = torch.full((length, length), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(config["num_hidden_layers"]):
        lp = f"model.layers.{i}."
        h = _multiway(
            x,
            modality,
            lambda t: _rms(t, sd[lp + "input_layernorm.multiway.0.weight"], eps),
            lambda t: _rms(t, sd[lp + "input_layernorm.multiway.1.weight"], eps),
        )
        q = _lin(h, sd, lp + "self_attn.q_proj", bias=False)
        k = _multiway(
            h,
            modality,
            lambda t: _lin(t, sd, lp + "self_attn.k_proj.multiway.0", bias=False),
            lambda t: _lin(t, sd, lp + "self_attn.k_proj.multiway.1", bias=False),
        )
        v = _multiway(
            h,
            modality,
            lambda t: _lin(t, sd, lp + "self_attn.v_proj.multiway.0", bias=False),
            lambda t: _lin(t, sd, lp + "self_attn.v_proj.multiway.1", bias=False),
        )
        out = torch.zeros(length, heads * hd, dtype=torch.float64)
        for head in range(heads):
            kvh = head // (heads // kv_heads)
            qh = rope(q[:, head * hd : (head + 1) * hd])
            kh = rope(k[:, kvh * hd : (kvh + 1) * hd])
            vh = v[:, kvh * hd : (kvh + 1) * hd]
            a = torch.softmax(qh @ kh.T / math.sqrt(hd) + causal, -1)
            out[:, head * hd : (head + 1) * hd] = a @ vh
        x = x + _lin(out, sd, lp + "self_attn.o_proj", bias=False)
        h = _multiway(
            x,
            modality,
            lambda t: _rms(t, sd[lp + "post_attention_layernorm.multiway.0.weight"], eps),
            lambda t: _rms(t, sd[lp + "post_attention_layernorm.multiway.1.weight"], eps),
        )
        h = torch.nn.functional.silu(_lin(h, sd, lp + "mlp.gate_proj", False)) * _lin(
            h, sd, lp + "mlp.up_proj", False
        )
        x = x + _lin(h, sd, lp + "mlp.down_proj", bias=False)
    x = _rms(x, sd["model.norm.weight"], eps)
    return _lin(x, sd, "lm_head", bias=False)
