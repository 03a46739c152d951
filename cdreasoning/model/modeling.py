"""The two-image mPLUG-Owl2 model: vision tower → visual abstractor → modality-adaptive LLaMA decoder.

    out = model(input_ids [b, t], attention_mask [b, t], pixel_values [n, 3, S, S], labels=None)
    out.logits [b, L, V]   (L: the expanded sequence, each image → Q + 1 visual tokens)

`input_ids` carry IMAGE_TOKEN_INDEX (−200) once per image, in the order of `pixel_values` (a CD sample has two).
`pixel_values` may also be [b, n, 3, S, S] or a list of [n_i, 3, S, S]; the original's keyword `images` is
accepted as an alias. The parameter names are those of the released checkpoints (`model.vision_model.*`,
`model.visual_abstractor.*`, `model.layers.N.self_attn.k_proj.multiway.1.weight`, …), so OneAlign / Q-Align /
CD-Reasoning weights load as they are and our checkpoints load in the original code.

Importing `cdreasoning.model` (as `cdreasoning.load_pretrained` does) registers the config and this class with `AutoConfig` / `AutoModelForCausalLM` under
`model_type` "mplug_owl2".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from cdreasoning.constants import IGNORE_INDEX, IMAGE_TOKEN_INDEX
from cdreasoning.model.abstractor import AbstractorAttention, VisualAbstractor
from cdreasoning.model.attention import AttentionMask
from cdreasoning.model.configuration import MPLUGOwl2Config
from cdreasoning.model.decoder import DecoderLayer, ModalityRouting, RMSNorm, rotary_cos_sin
from cdreasoning.model.kv_cache import KVCache
from cdreasoning.model.merge import merge_images, positions_from_mask
from cdreasoning.model.vision import VisionEmbeddings, VisionTower
from cdreasoning.runtime import ATTENTION_IMPLEMENTATIONS


@dataclass
class MPLUGOwl2Output(ModelOutput):
    """loss: mean (or sum / num_items_in_batch) next-token cross-entropy over supervised positions.
    logits [b, L, V] (or the last `logits_to_keep` positions). attention_mask / labels: the expanded ones."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    # Named `cache` as in transformers ≥ 5.24, whose ModelOutput renames a `past_key_values` field's keyword to
    # `cache` (a dataclass field of the old name can no longer be constructed there).
    cache: KVCache | None = None
    attention_mask: torch.Tensor | None = None
    labels: torch.Tensor | None = None


class MPLUGOwl2Model(nn.Module):
    """`model.*`: the LLaMA decoder's embeddings, layers and final norm, plus the two visual modules."""

    def __init__(self, config: MPLUGOwl2Config):
        super().__init__()
        self.config = config
        # padding_idx = pad_token_id (third argument), as in LLaMA: that embedding row receives no gradient.
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList([DecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.vision_model = VisionTower(config.vision)
        self.visual_abstractor = VisualAbstractor(config.abstractor, config.hidden_size)

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[n, 3, S, S] → [n, Q + 1, H] visual tokens for the decoder."""
        return self.visual_abstractor(self.vision_model(pixel_values))

    def decode(self, embeds, visual, key_valid, position_ids, cache, implementation) -> torch.Tensor:
        """embeds [b, L, H] → final hidden states [b, L, H].

        key_valid [b, past + L]: 1 for real tokens (cached and new); visual [b, L] bool or None (all text).
        """
        # Training always runs both multiway branches (see ModalityRouting.build): ZeRO-3 needs every
        # rank to use the same parameters in every step, whatever tokens its batch holds.
        routing = ModalityRouting.build(visual, force_mixed=self.training)
        # One mask for all layers, built from key_valid, which
        # spans the cached tokens as well as the new ones.
        mask = AttentionMask.build(key_valid, embeds.shape[1], implementation)
        rotary = rotary_cos_sin(self.config, position_ids, embeds.dtype)
        hidden = embeds
        for layer in self.layers:
            hidden = layer(hidden, routing, rotary, mask, cache)
        return self.norm(hidden)


def _flatten_pixel_values(pixel_values) -> torch.Tensor | None:
    """Accept [n, 3, S, S], [b, n, 3, S, S] or a list of [n_i, 3, S, S] (or [3, S, S]); return [n, 3, S, S]."""
    if pixel_values is None:
        return None
    if isinstance(pixel_values, (list, tuple)):
        if not pixel_values:
            return None
        # A list entry may be one image [3, S, S]; it is stacked as [1, 3, S, S].
        return torch.cat([p.unsqueeze(0) if p.dim() == 3 else p for p in pixel_values], dim=0)
    if pixel_values.dim() == 5:
        # Row-major flattening keeps the order of the -200 sentinels in input_ids (row 0's images first).
        return pixel_values.flatten(0, 1)
    if pixel_values.dim() != 4:
        raise ValueError(
            f"pixel_values must be [n, 3, S, S] or [b, n, 3, S, S]; got {list(pixel_values.shape)}"
        )
    return pixel_values


class MPLUGOwl2ForCausalLM(PreTrainedModel):
    """The two-image mPLUG-Owl2 model: vision tower → visual abstractor → modality-adaptive LLaMA decoder →
    LM head, with the released checkpoints' parameter names (module docstring: inputs, shapes, caching)."""

    config_class = MPLUGOwl2Config
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    # accelerate's device_map never splits these blocks across devices (each holds a residual connection).
    _no_split_modules = ["DecoderLayer", "VisionLayer", "AbstractorLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True

    def __init__(self, config: MPLUGOwl2Config):
        config.check_consistency()
        super().__init__(config)
        self.model = MPLUGOwl2Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        # The default; set_attention_implementation pushes a choice down to every attention module.
        self.attention_implementation = "sdpa"
        self.post_init()

    # -- HF plumbing ---------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """transformers' loader (ZeRO-3, device_map, quantization work as usual), made strict as
        `cdreasoning.load_pretrained` is: the folder's weight names are checked against the architecture first,
        and after loading any weight transformers reports missing or unexpected raises `CheckpointError` instead
        of being left randomly initialised. This is the class `AutoModelForCausalLM` uses for "mplug_owl2".
        Only local folders are accepted (weights are never downloaded)."""
        from cdreasoning.errors import CheckpointError
        from cdreasoning.model.loading import CheckpointFolder, verify_weights

        # a clear error for a file, a missing folder, a LoRA adapter; then the weight names against the config
        verify_weights(CheckpointFolder.open(pretrained_model_name_or_path))
        # The loading info is always requested so that missing / unexpected weights can be checked below.
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(
            pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
        )
        problems = {key: sorted(info.get(key) or ()) for key in ("missing_keys", "unexpected_keys")}
        # Quantized loads are exempt: quantizers add or rename weights
        # of their own, so the key lists need not match name for name.
        if any(problems.values()) and "quantization_config" not in kwargs:
            listed = "; ".join(
                f"{key.replace('_', ' ')}: {names[:20]}" for key, names in problems.items() if names
            )
            raise CheckpointError(
                f"{pretrained_model_name_or_path}: the weights do not match the model ({listed})"
            )
        return (model, info) if want_info else model

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    # Only for freshly built models and missing weights; transformers.initialization's functions (unlike
    # torch.nn.init) leave parameters already loaded from a checkpoint alone.
    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, RMSNorm):
            init.ones_(module.weight)
        elif isinstance(module, VisionEmbeddings):
            init.normal_(module.cls_token, mean=0.0, std=std)
            init.normal_(module.position_embedding, mean=0.0, std=std)
        elif isinstance(module, VisualAbstractor):
            init.normal_(module.query_embeds, mean=0.0, std=std)
            init.normal_(module.vit_eos, mean=0.0, std=std)
        elif isinstance(module, AbstractorAttention):
            # The sin-cos position tables are fixed, not learned:
            # rebuild them exactly rather than draw them at random.
            q_pos, k_pos = module.position_tables()
            init.copy_(module.q_pos_embed, q_pos.to(module.q_pos_embed.device, module.q_pos_embed.dtype))
            init.copy_(module.k_pos_embed, k_pos.to(module.k_pos_embed.device, module.k_pos_embed.dtype))

    def set_attention_implementation(self, implementation: str) -> None:
        """ "sdpa" (default), "eager" or "flash_attention_2" for every attention module (see runtime)."""
        if implementation not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(f"unknown attention {implementation!r}; use one of {ATTENTION_IMPLEMENTATIONS}")
        self.attention_implementation = implementation
        for module in self.modules():
            # Vision tower, abstractor and decoder attention modules
            # each read their own attribute at forward time.
            if hasattr(module, "attention_implementation") and module is not self:
                module.attention_implementation = implementation

    @property
    def image_tokens(self) -> int:
        """Decoder tokens per image (queries + vit_eos)."""
        return self.config.image_tokens

    # -- forward -------------------------------------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values=None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool | None = None,
        cache: KVCache | None = None,
        logits_to_keep: int = 0,
        images=None,
        num_items_in_batch: int | torch.Tensor | None = None,
        return_dict: bool | None = None,
        **unused,
    ) -> MPLUGOwl2Output:
        if unused:
            # Keywords transformers' generate / Trainer may pass
            # that mean nothing here; anything else is a bug.
            ignorable = {"output_attentions", "output_hidden_states", "cache_position"}
            unexpected = sorted(set(unused) - ignorable)
            if unexpected:
                raise TypeError(f"MPLUGOwl2ForCausalLM.forward got unexpected arguments: {unexpected}")
        if input_ids is None:
            raise ValueError("input_ids is required")
        if cache is not None:  # the transformers ≥ 5.24 name of the same argument
            if past_key_values is not None:
                raise ValueError("pass the KV cache as cache or past_key_values, not both")
            past_key_values = cache
        if pixel_values is not None and images is not None:
            raise ValueError("pass images as pixel_values or images, not both")
        pixel_values = _flatten_pixel_values(pixel_values if pixel_values is not None else images)

        # A non-empty cache means a continuation step: the prompt (with its images) has already been encoded.
        cached = past_key_values is not None and past_key_values.length > 0
        # use_cache without a cache: start one here and return
        # it in the output, as transformers' callers expect.
        if use_cache and past_key_values is None:
            past_key_values = KVCache(self.config.num_hidden_layers)
        if cached:
            # Continuing after a prompt: text tokens only, attention_mask covers cache + new tokens.
            if bool((input_ids == IMAGE_TOKEN_INDEX).any()) or pixel_values is not None:
                raise ValueError(
                    "images can only be given with the prompt, not in steps that continue a cache"
                )
            new = input_ids.shape[1]
            if attention_mask is None:
                # Default: every cached and new token is real (a single unpadded sequence).
                attention_mask = input_ids.new_ones(input_ids.shape[0], past_key_values.length + new)
            if position_ids is None:
                # The new tokens continue each row's count of real
                # tokens; the cache holds the positions before them.
                position_ids = positions_from_mask(attention_mask)[:, -new:]
            embeds, visual, key_valid, expanded_labels = (
                self.model.embed_tokens(input_ids),
                None,
                attention_mask,
                None,
            )
        else:
            features = None
            if pixel_values is not None:
                # Encode on the vision tower's device (it may sit on another GPU under device_map).
                device = self.model.vision_model.embeddings.patch_embed.weight.device
                features = self.model.encode_images(pixel_values.to(device))
            # Each -200 sentinel becomes the image's Q + 1 tokens;
            # mask, positions and labels are expanded to match.
            merged = merge_images(input_ids, attention_mask, features, self.model.embed_tokens, labels)
            embeds, visual, key_valid = merged.embeds, merged.visual, merged.attention_mask
            position_ids = merged.position_ids if position_ids is None else position_ids
            expanded_labels = merged.labels

        hidden = self.model.decode(
            embeds,
            visual,
            key_valid,
            position_ids,
            # The cache is written only when asked (a prompt with
            # use_cache) or when already in use (a continuation).
            past_key_values if use_cache or cached else None,
            self.attention_implementation,
        )
        # logits_to_keep=1 (generation, level scoring) runs
        # the LM head on the last position only: no [b, L, V].
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)

        loss = None
        if expanded_labels is not None:
            if logits_to_keep:
                raise ValueError("labels need logits at every position; do not combine with logits_to_keep")
            loss = self.next_token_loss(logits, expanded_labels, num_items_in_batch)
        return MPLUGOwl2Output(
            loss=loss,
            logits=logits,
            cache=past_key_values if (use_cache or cached) else None,
            # The expanded mask goes back to the caller: generation extends it, not the unexpanded input mask.
            attention_mask=key_valid,
            labels=expanded_labels,
        )

    @staticmethod
    def next_token_loss(logits, labels, num_items_in_batch=None) -> torch.Tensor:
        """Cross-entropy of position i predicting label i+1, over labels ≠ IGNORE_INDEX, in float32.

        With `num_items_in_batch` (the Trainer passes the supervised-token count of the whole accumulated
        batch) the sum is divided by it, so gradient accumulation weighs every token equally.
        """
        # float32 logits: a bf16 log-softmax over a 32k vocabulary loses visible precision in the loss.
        shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
        # Labels may sit on another device than the LM head's output under device_map.
        shift_labels = labels[:, 1:].reshape(-1).to(shift_logits.device)
        if num_items_in_batch is None:
            return nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=IGNORE_INDEX)
        total = nn.functional.cross_entropy(
            shift_logits, shift_labels, ignore_index=IGNORE_INDEX, reduction="sum"
        )
        if torch.is_tensor(num_items_in_batch):
            num_items_in_batch = num_items_in_batch.to(total.device)
        return total / num_items_in_batch

    # -- generation ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, input_ids, attention_mask=None, pixel_values=None, **options) -> torch.Tensor:
        """Continue prompts with images; returns the new tokens [b, ≤ max_new_tokens]. See generation.py."""
        from cdreasoning.model.generation import generate

        return generate(self, input_ids, attention_mask, pixel_values, **options)
