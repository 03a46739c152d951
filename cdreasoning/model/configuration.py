"""Configuration of the mPLUG-Owl2 architecture, in the exact `config.json` layout of the released checkpoints.

The checkpoint's `config.json` is a LLaMA config (`model_type` "mplug_owl2") plus a `visual_config` dict with two
sub-dicts, `visual_model` (the CLIP-style ViT) and `visual_abstractor`. The original code fills every key the
file omits with its defaults; so do we. The sub-dicts are kept verbatim in `MPLUGOwl2Config.visual_config` (so a
saved config round-trips, unknown keys included) and parsed into the typed `VisionConfig` / `AbstractorConfig`
dataclasses that the modules are built from. `MPLUGOwl2Config.validate()` is the one place where the sizes are
checked against each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedConfig


@dataclass(frozen=True)
class VisionConfig:
    """The CLIP ViT-L/14 vision tower (`model.vision_model`). Defaults are the released 448-px tower."""

    hidden_size: int = field(default=1024, metadata={"help": "width of the ViT"})
    intermediate_size: int = field(default=4096, metadata={"help": "MLP width (QuickGELU)"})
    num_hidden_layers: int = field(default=24, metadata={"help": "pre-LN transformer layers"})
    num_attention_heads: int = field(default=16, metadata={"help": "attention heads"})
    num_channels: int = field(default=3, metadata={"help": "input channels (RGB)"})
    image_size: int = field(default=448, metadata={"help": "square input side in pixels"})
    patch_size: int = field(default=14, metadata={"help": "patch side; image_size must be a multiple"})
    hidden_act: str = field(default="quick_gelu", metadata={"help": "only quick_gelu (CLIP) is supported"})
    layer_norm_eps: float = field(default=1e-6, metadata={"help": "LayerNorm epsilon of every ViT norm"})
    attention_dropout: float = field(default=0.0, metadata={"help": "dropout on attention probabilities"})
    initializer_range: float = field(default=0.02, metadata={"help": "std of random initialisation"})

    @property
    def grid_size(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_positions(self) -> int:
        """Tokens per image out of the tower: one CLS + grid² patches."""
        return self.grid_size**2 + 1


@dataclass(frozen=True)
class AbstractorConfig:
    """The visual abstractor (`model.visual_abstractor`): learned queries cross-attending to ViT tokens."""

    num_learnable_queries: int = field(
        default=64, metadata={"help": "queries → LLM tokens per image (+1 eos)"}
    )
    hidden_size: int = field(default=1024, metadata={"help": "width; must equal encoder_hidden_size"})
    num_hidden_layers: int = field(default=6, metadata={"help": "cross-attention layers"})
    num_attention_heads: int = field(default=16, metadata={"help": "attention heads"})
    intermediate_size: int = field(default=2816, metadata={"help": "SwiGLU hidden width"})
    attention_probs_dropout_prob: float = field(default=0.0, metadata={"help": "attention dropout"})
    initializer_range: float = field(default=0.02, metadata={"help": "std of random initialisation"})
    layer_norm_eps: float = field(default=1e-6, metadata={"help": "epsilon of the MLP's ffn_ln"})
    encoder_hidden_size: int = field(default=1024, metadata={"help": "width of the ViT tokens it reads"})
    grid_size: int = field(default=32, metadata={"help": "ViT patch grid side (position buffers)"})


def _rope_parameters(theta: float, scaling: dict | None, given: dict | None) -> dict[str, Any]:
    """{"rope_type": "default"|"linear", "rope_theta": θ[, "factor": f]} from the original keys (or 5.x's)."""
    # A transformers 5.x config already carries rope_parameters: only fill in what that dict omits.
    if given:
        params = dict(given)
        params.setdefault("rope_theta", theta)
        params.setdefault("rope_type", "default")
        return params
    if scaling is None:
        return {"rope_type": "default", "rope_theta": float(theta)}
    kind = scaling.get("type", scaling.get("rope_type"))
    factor = scaling.get("factor")
    # Only linear scaling is implemented (decoder.rotary_cos_sin); dynamic / NTK / YaRN would silently differ.
    if kind != "linear" or not isinstance(factor, (int, float)) or factor <= 1:
        raise ValueError(
            f"rope_scaling {scaling!r} is not supported: use null or {{'type': 'linear', 'factor' > 1}}"
        )
    return {"rope_type": "linear", "rope_theta": float(theta), "factor": float(factor)}


def _parse(cls, raw: dict[str, Any] | None, where: str):
    """Build a dataclass from a raw dict, taking known keys only (the originals also save base-config keys)."""
    raw = dict(raw or {})
    names = {f.name for f in dataclasses.fields(cls)}
    # A null in config.json falls back to the dataclass default instead of reaching a module as None.
    values = {k: v for k, v in raw.items() if k in names and v is not None}
    try:
        return cls(**values)
    except TypeError as exc:  # pragma: no cover - only on wrong value types
        raise ValueError(f"invalid {where}: {exc}") from None


class MPLUGOwl2Config(PreTrainedConfig):
    """LLaMA-2 decoder settings plus `visual_config` = {"visual_model": {...}, "visual_abstractor": {...}}.

    Defaults are mPLUG-Owl2 / Q-Align's LLaMA-2-7B. Loaded and saved exactly like the original `config.json`.
    """

    model_type = "mplug_owl2"
    # The Trainer's evaluation drops these output fields (the KV cache) before gathering logits.
    keys_to_ignore_at_inference = ["past_key_values", "cache"]

    def __init__(
        self,
        vocab_size: int = 32000,
        hidden_size: int = 4096,
        intermediate_size: int = 11008,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = None,
        hidden_act: str = "silu",
        max_position_embeddings: int = 2048,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        pad_token_id: int | None = None,
        bos_token_id: int = 1,
        eos_token_id: int = 2,
        pretraining_tp: int = 1,
        tie_word_embeddings: bool = False,
        rope_theta: float = 10000.0,
        rope_scaling: dict | None = None,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        visual_config: dict | None = None,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        # None = plain multi-head attention: LLaMA-2-7B has as many KV heads as query heads.
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        # Stored for config.json round-trips only: the model never splits its projections by it.
        self.pretraining_tp = pretraining_tp
        # transformers 5 keeps RoPE settings in `rope_parameters` (its `rope_scaling` is an alias of it); the
        # original config.json has `rope_theta` + `rope_scaling`, which `to_dict` writes back.
        self.rope_parameters = _rope_parameters(rope_theta, rope_scaling, kwargs.pop("rope_parameters", None))
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        if visual_config is None:
            # No visual_config (a bare LLaMA-style config): the released 448-px tower and 64-query abstractor.
            visual_config = {
                "visual_model": dataclasses.asdict(VisionConfig()),
                "visual_abstractor": dataclasses.asdict(AbstractorConfig()),
            }
        self.visual_config = visual_config
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )

    def to_dict(self) -> dict[str, Any]:
        """As transformers writes it, but with RoPE as the original `rope_theta` / `rope_scaling` keys."""
        out = super().to_dict()
        # transformers may already have moved RoPE into rope_parameters; fall back to ours if not.
        params = out.pop("rope_parameters", None) or self.rope_parameters
        out["rope_theta"] = float(params["rope_theta"])
        out["rope_scaling"] = (
            {"type": "linear", "factor": float(params["factor"])}
            if params.get("rope_type") == "linear"
            else None
        )
        return out

    @property
    def rope_theta(self) -> float:
        return float(self.rope_parameters["rope_theta"])

    @property
    def rope_linear_factor(self) -> float | None:
        """Position divisor of linear RoPE scaling, or None."""
        params = self.rope_parameters
        return float(params["factor"]) if params.get("rope_type") == "linear" else None

    # -- typed views ---------------------------------------------------------------------------------------
    @property
    def vision(self) -> VisionConfig:
        # Parsed on every access (cheap), so an edit of
        # visual_config is always seen and nothing stale is kept.
        return _parse(VisionConfig, self.visual_config.get("visual_model"), "visual_config.visual_model")

    @property
    def abstractor(self) -> AbstractorConfig:
        return _parse(
            AbstractorConfig, self.visual_config.get("visual_abstractor"), "visual_config.visual_abstractor"
        )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def image_tokens(self) -> int:
        """LLM tokens each image becomes: the abstractor's queries plus one `vit_eos`."""
        return self.abstractor.num_learnable_queries + 1

    def check_consistency(self) -> None:
        """Check that the sizes fit together; raise ValueError saying which do not."""
        vision, abstractor = self.vision, self.abstractor
        problems = []
        if not isinstance(self.visual_config, dict) or not {"visual_model", "visual_abstractor"} <= set(
            self.visual_config
        ):
            problems.append("visual_config must hold 'visual_model' and 'visual_abstractor' dicts")
        if self.hidden_size % self.num_attention_heads:
            problems.append(
                f"hidden_size {self.hidden_size} is not a multiple of {self.num_attention_heads} heads"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            problems.append(
                f"num_attention_heads {self.num_attention_heads} not a multiple of "
                f"num_key_value_heads {self.num_key_value_heads}"
            )
        if self.head_dim % 2:
            problems.append(f"head dim {self.head_dim} must be even for rotary embeddings")
        if self.hidden_act != "silu":
            problems.append(f"hidden_act {self.hidden_act!r} is not supported (LLaMA uses 'silu')")
        if self.rope_parameters.get("rope_type") not in ("default", "linear"):
            problems.append(f"RoPE {self.rope_parameters!r}: only no scaling or linear scaling is supported")
        if vision.image_size % vision.patch_size:
            problems.append(
                f"image_size {vision.image_size} is not a multiple of patch_size {vision.patch_size}"
            )
        if vision.hidden_size % vision.num_attention_heads:
            problems.append("visual_model.hidden_size is not a multiple of its attention heads")
        if vision.hidden_act != "quick_gelu":
            problems.append(f"visual_model.hidden_act {vision.hidden_act!r}: only 'quick_gelu' is supported")
        if abstractor.encoder_hidden_size != vision.hidden_size:
            problems.append(
                f"visual_abstractor.encoder_hidden_size {abstractor.encoder_hidden_size} != "
                f"visual_model.hidden_size {vision.hidden_size}"
            )
        # The abstractor's keys/values are [normed queries ; image tokens]: both widths must agree.
        if abstractor.hidden_size != abstractor.encoder_hidden_size:
            problems.append(
                "visual_abstractor.hidden_size must equal its encoder_hidden_size (shared key/value)"
            )
        if abstractor.hidden_size % abstractor.num_attention_heads:
            problems.append("visual_abstractor.hidden_size is not a multiple of its attention heads")
        # 2-D sin-cos positions: dim/2 per axis, and each axis splits its half again into sin and cos.
        if abstractor.hidden_size % 4:
            problems.append("visual_abstractor.hidden_size must be a multiple of 4 (2-D sin-cos positions)")
        # k_pos_embed has one row per ViT token (1 + grid²), so both grids must be the same.
        if abstractor.grid_size != vision.grid_size:
            problems.append(
                f"visual_abstractor.grid_size {abstractor.grid_size} != image_size/patch_size {vision.grid_size}"
            )
        if problems:
            raise ValueError("invalid mplug_owl2 config: " + "; ".join(problems))
