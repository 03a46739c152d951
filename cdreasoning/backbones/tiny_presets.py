"""Tiny random checkpoints of the transformers-native families, for tests and the quickstart (offline, CPU).

    cdreasoning init-model --preset tiny-qwen2_5_vl --out checkpoints/tiny-qwen2_5_vl
    write_hf_preset("tiny-idefics3", "ckpt/tiny-idefics3", seed=0)

Each preset is the family's real architecture (transformers' own model class, a few hundred thousand parameters:
2 vision blocks, 2 decoder layers of width 64) with a checkpoint folder laid out as the released ones:
`config.json`, `model.safetensors`, `tokenizer.json` (a byte-level BPE like Qwen's / SmolLM's, trained in
milliseconds on the task's own sentences, so every level word is one token), the family's special and image
tokens, its chat template (`chat_template.jinja`, the released template's structure: Qwen's `<|im_start|>` turns
with `<|vision_start|><|image_pad|><|vision_end|>` per image, Qwen3.5's with its `<think>` blocks; Idefics3's
`User:<image>…<end_of_utterance>`), the image preprocessor config (dynamic resolution for Qwen, fixed size for
Idefics3) and `processor_config.json`. Qwen3.5's decoder has one linear-attention (Gated DeltaNet) and one full
attention layer; without the `fla` / `causal-conv1d` kernels transformers runs its PyTorch reference (CPU too).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

HF_PRESETS = ("tiny-qwen2_5_vl", "tiny-qwen3_vl", "tiny-qwen3_5", "tiny-idefics3")

QWEN_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
IDEFICS3_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    *[f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)],
]

# The released Qwen2.5-VL / Qwen3-VL template's structure (system turn omitted: the task prompt is the user's).
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif item['type'] == 'text' %}{{ item['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# The released Qwen3.5 template's structure (tools and system turn omitted). Qwen3.5 thinks: the generation prompt
# opens a `<think>` block unless `enable_thinking=False` closes it empty, and an assistant turn after the last user
# message is written with its (here always empty) reasoning block, earlier ones without.
QWEN3_5_THINK_TOKENS = ["<think>", "</think>"]
QWEN3_5_CHAT_TEMPLATE = (
    "{% set ns = namespace(last_query_index=-1) %}"
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    "{% set ns.last_query_index = loop.index0 %}{% endif %}{% endfor %}"
    "{% for message in messages %}"
    "{% if message['content'] is string %}{% set content = message['content'] %}{% else %}"
    "{% set content = namespace(text='') %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}"
    "{% set content.text = content.text + '<|vision_start|><|image_pad|><|vision_end|>' %}"
    "{% elif item['type'] == 'text' %}{% set content.text = content.text + item['text'] %}{% endif %}"
    "{% endfor %}{% set content = content.text %}{% endif %}"
    "{% set content = content | trim %}"
    "{% if message['role'] == 'assistant' %}"
    "{% set reasoning = '' %}"
    "{% if '</think>' in content %}"
    "{% set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}"
    "{% set content = content.split('</think>')[-1].lstrip('\\n') %}{% endif %}"
    "{% if loop.index0 > ns.last_query_index %}"
    "{{ '<|im_start|>assistant\\n<think>\\n' + (reasoning | trim) + '\\n</think>\\n\\n' + content }}"
    "{% else %}{{ '<|im_start|>assistant\\n' + content }}{% endif %}<|im_end|>\n"
    "{% else %}<|im_start|>{{ message['role'] }}\n{{ content }}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)
# SmolVLM / Idefics3's released template.
IDEFICS3_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}{{ ': ' + message['content'] }}{% else %}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def build_bpe_tokenizer(special_tokens: list[str], eos: str, pad: str, chat_template: str, vocab_size=1024):
    """A byte-level BPE fast tokenizer trained on the task's sentences (no BOS, like Qwen's and SmolLM's)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from cdreasoning.processing.tokenizer_files import tokenizer_corpus

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(tokenizer_corpus(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=eos,
        pad_token=pad,
        chat_template=chat_template,
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )


def _qwen_text_config(vocab: int, ids: dict) -> dict:
    return dict(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=2048,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        tie_word_embeddings=False,
        pad_token_id=ids["pad"],
        eos_token_id=ids["eos"],
        bos_token_id=None,
    )


def _build(preset: str, tokenizer):
    """(model config, image processor, processor class name, processor kwargs) of a preset."""
    import transformers

    ids = {"eos": tokenizer.eos_token_id, "pad": tokenizer.pad_token_id}
    vocab = len(tokenizer)
    token = tokenizer.convert_tokens_to_ids
    if preset in ("tiny-qwen2_5_vl", "tiny-qwen3_vl", "tiny-qwen3_5"):
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        qwen3 = preset in ("tiny-qwen3_vl", "tiny-qwen3_5")
        patch = 16 if qwen3 else 8
        image_processor = Qwen2VLImageProcessorPil(
            min_pixels=(2 * patch) ** 2,
            max_pixels=(8 * patch) ** 2,  # ≤ 16 image tokens per image
            patch_size=patch,
            temporal_patch_size=2,
            merge_size=2,
        )
        text = _qwen_text_config(vocab, ids)
        mm_ids = dict(
            image_token_id=token("<|image_pad|>"),
            video_token_id=token("<|video_pad|>"),
            vision_start_token_id=token("<|vision_start|>"),
            vision_end_token_id=token("<|vision_end|>"),
        )
        # the vision towers of both families share these sizes; each adds its own position scheme below
        vision = dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=64,
            patch_size=patch,
            spatial_merge_size=2,
            temporal_patch_size=2,
        )
        if preset == "tiny-qwen3_5":
            # Qwen3.5's decoder interleaves Gated DeltaNet (linear attention) with gated full attention, 3:1 in the
            # released models; here one of each, in that order. Rotary on a quarter of each head (as released):
            # 32-wide heads → 8 rotary dims → an M-RoPE section of 4 frequencies.
            text.update(
                head_dim=32,
                layer_types=["linear_attention", "full_attention"],
                linear_conv_kernel_dim=4,
                linear_num_key_heads=2,
                linear_num_value_heads=4,
                linear_key_head_dim=16,
                linear_value_head_dim=16,
            )
            text["rope_parameters"].update(
                mrope_section=[2, 1, 1], mrope_interleaved=True, partial_rotary_factor=0.25
            )
            vision.update(num_position_embeddings=64)  # Qwen3-VL's tower without the deepstack mergers
            config = transformers.Qwen3_5Config(text_config=text, vision_config=vision, **mm_ids)
            return config, image_processor, "Qwen3VLProcessor", {}
        if qwen3:
            text["rope_parameters"]["mrope_interleaved"] = True
            vision.update(num_position_embeddings=64, deepstack_visual_indexes=[1])
            config = transformers.Qwen3VLConfig(text_config=text, vision_config=vision, **mm_ids)
            return config, image_processor, "Qwen3VLProcessor", {}
        vision.update(window_size=32, fullatt_block_indexes=[1])
        config = transformers.Qwen2_5_VLConfig(text_config=text, vision_config=vision, **mm_ids)
        return config, image_processor, "Qwen2_5_VLProcessor", {}
    if preset == "tiny-idefics3":
        from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

        image_size, patch, scale = 32, 8, 2
        image_processor = Idefics3ImageProcessorPil(
            do_image_splitting=False,
            size={"longest_edge": image_size},
            max_image_size={"longest_edge": image_size},
        )
        text = dict(
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            pad_token_id=ids["pad"],
            eos_token_id=ids["eos"],
            bos_token_id=None,
            tie_word_embeddings=False,
        )
        vision = dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=image_size,
            patch_size=patch,
        )
        config = transformers.Idefics3Config(
            text_config=text,
            vision_config=vision,
            scale_factor=scale,
            image_token_id=token("<image>"),
            pad_token_id=ids["pad"],
        )
        seq_len = (image_size // patch) ** 2 // scale**2
        return config, image_processor, "Idefics3Processor", {"image_seq_len": seq_len}
    raise ValueError(f"unknown preset {preset!r}; choose one of {HF_PRESETS}")


def write_hf_preset(
    preset: str,
    out_dir: str | Path,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    overwrite: bool = False,
) -> Path:
    """Write a tiny random checkpoint folder of `preset` (refuses a non-empty folder unless `overwrite`)."""
    import transformers

    if preset not in HF_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {HF_PRESETS}")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; pass overwrite=True (--overwrite) to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if preset == "tiny-idefics3":
        tokenizer = build_bpe_tokenizer(
            IDEFICS3_SPECIAL, "<end_of_utterance>", "<|endoftext|>", IDEFICS3_CHAT_TEMPLATE
        )
    elif preset == "tiny-qwen3_5":
        tokenizer = build_bpe_tokenizer(QWEN_SPECIAL, "<|im_end|>", "<|endoftext|>", QWEN3_5_CHAT_TEMPLATE)
        tokenizer.add_tokens(
            QWEN3_5_THINK_TOKENS
        )  # single tokens, not special (kept when decoding), as released
    else:
        tokenizer = build_bpe_tokenizer(QWEN_SPECIAL, "<|im_end|>", "<|endoftext|>", QWEN_CHAT_TEMPLATE)
    config, image_processor, processor_class, processor_kwargs = _build(preset, tokenizer)
    config.architectures = [
        {
            "tiny-qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
            "tiny-qwen3_vl": "Qwen3VLForConditionalGeneration",
            "tiny-qwen3_5": "Qwen3_5ForConditionalGeneration",
            "tiny-idefics3": "Idefics3ForConditionalGeneration",
        }[preset]
    ]
    torch.manual_seed(seed)
    model = transformers.AutoModelForImageTextToText.from_config(config).to(dtype)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    image_processor.save_pretrained(out)
    (out / "chat_template.jinja").write_text(tokenizer.chat_template)
    processor_config = {"processor_class": processor_class, **processor_kwargs}
    (out / "processor_config.json").write_text(json.dumps(processor_config, indent=2) + "\n")
    return out


def qwen2_5_vl_7b(device="cpu", dtype: torch.dtype = torch.bfloat16):
    """(model, backbone) of Qwen2.5-VL-7B's sizes with random weights, built in place on `device` (no files):
    text 3584 wide, 28 layers, 28 heads / 4 KV heads, MLP 18944, vocabulary 152064; vision 32 blocks of 1280,
    patch 14, window 112, 2×2 merge → 3584 (8.29 B parameters). The processor is the tiny Qwen preset's
    tokenizer and chat template with the real patch / merge sizes, so image-token counts are the real ones.
    For `scripts/bench_model.py --preset qwen2_5_vl-7b` (GPU measurements without a download)."""
    import transformers
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from cdreasoning.backbones.hf_vlm import HFVisionLanguageBackbone, _without_video

    tokenizer = build_bpe_tokenizer(QWEN_SPECIAL, "<|im_end|>", "<|endoftext|>", QWEN_CHAT_TEMPLATE)
    token = tokenizer.convert_tokens_to_ids
    text = dict(
        vocab_size=152064,
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        max_position_embeddings=128000,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
        tie_word_embeddings=False,
    )
    vision = dict(
        depth=32,
        hidden_size=1280,
        intermediate_size=3420,
        num_heads=16,
        out_hidden_size=3584,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=112,
        fullatt_block_indexes=[7, 15, 23, 31],
    )
    config = transformers.Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=token("<|image_pad|>"),
        video_token_id=token("<|video_pad|>"),
        vision_start_token_id=token("<|vision_start|>"),
        vision_end_token_id=token("<|vision_end|>"),
    )
    with torch.device(device):
        model = transformers.Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    image_processor = Qwen2VLImageProcessorPil(
        min_pixels=56 * 56, max_pixels=28 * 28 * 1280, patch_size=14, temporal_patch_size=2, merge_size=2
    )
    processor_class = transformers.Qwen2_5_VLProcessor
    try:
        processor = processor_class(
            image_processor=image_processor, tokenizer=tokenizer, chat_template=QWEN_CHAT_TEMPLATE
        )
    except (
        TypeError,
        ValueError,
        AttributeError,
    ):  # no torchvision: no video processor class to check against
        processor = _without_video(processor_class)(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            chat_template=QWEN_CHAT_TEMPLATE,
        )
    return HFVisionLanguageBackbone(model.eval(), processor, "qwen2_5_vl")
