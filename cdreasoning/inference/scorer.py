"""Score and describe the colour difference of image pairs with an mPLUG-Owl2 or transformers-native VLM checkpoint.

    from cdreasoning import CDScorer
    scorer = CDScorer.from_pretrained("checkpoints/cd-model", device="auto", dtype="auto")
    result = scorer.score("a.png", "b.png")       # .score (0–5), .level, .probabilities, .delta_v
    results = scorer.score_pairs([("a.png", "b.png"), …], batch_size=32)
    text = scorer.describe("a.png", "b.png")       # .text and .severities (seven attributes)

Many pairs run per forward pass: every pair shares the same prompt, so a batch is the prompt repeated with the
pairs' images (no padding, so a pair's score does not depend on its batch). Image decoding and resizing run in
DataLoader workers (`num_workers`) while the model computes.

The prompt is the template the model was trained with (`conv_template`, default "v1") around the question,
with the two image placeholders before it as in M-SPCD (`image_position="before"`). `prompt="original"` instead
reproduces CD-Reasoning's own evaluation scripts token for token (their prompts, level ids, one placeholder for
both images when scoring, padded images for scores and centre-cropped ones for descriptions; see
`cdreasoning.processing.original_prompt` and docs/original_differences.md):

    scorer = CDScorer.from_pretrained("checkpoints/cd-reasoning", prompt="original")

The model family is a backbone (`cdreasoning.backbones`, chosen by config.json's model_type): the mPLUG-Owl2
one (exactly the path above) or a transformers-native VLM (Qwen2.5-VL, Qwen3-VL, Qwen3.5, Idefics3, …), which uses its own
chat template (`conv_template` and `prompt="original"` are mPLUG-Owl2's) and its processor's image tokens. The
scorer dispatches: prompts, image loading, batching, answer logits and generation are the backbone's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from cdreasoning.backbones import Prompt, as_backbone, detect_backbone
from cdreasoning.checkpoint_config import read_checkpoint_config
from cdreasoning.constants import (
    DEFAULT_IMAGE_TOKEN,
    DEFAULT_SCORE_QUESTION,
    DEPICT_QUESTION,
    IMAGE_TOKEN_ALIASES,
)
from cdreasoning.errors import ImageError, UsageError
from cdreasoning.inference.levels import LevelScale, level_token_ids
from cdreasoning.processing import ImageProcessor, get_template
from cdreasoning.runtime import resolve_device, resolve_dtype
from cdreasoning.scale import delta_v_from_grade

IMAGE_POSITIONS = ("before", "after")
PROMPTS = ("training", "original")


@dataclass(frozen=True)
class ScoreResult:
    """score: expected level on the 0–5 grade scale; level: the most likely word; probabilities: per level
    word (sum 1); delta_v: the score on SPCD's ΔV scale (ΔV = 1.6036·exp(0.5391·score) − 1.2943);
    std: standard deviation of the level distribution (grade units, 0 = one level for sure);
    delta_v_low/high: the ΔV interval at `interval_coverage` (see `cdreasoning.inference.uncertainty`)."""

    score: float
    level: str
    probabilities: dict[str, float]
    delta_v: float
    std: float = 0.0
    delta_v_low: float | None = None
    delta_v_high: float | None = None
    interval_coverage: float | None = None

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "level": self.level,
            "delta_v": self.delta_v,
            "std": self.std,
            "delta_v_low": self.delta_v_low,
            "delta_v_high": self.delta_v_high,
            "interval_coverage": self.interval_coverage,
            "probabilities": dict(self.probabilities),
        }


@dataclass(frozen=True)
class Description:
    """The generated description and the per-attribute severities parsed from it (absent when not mentioned)."""

    text: str
    severities: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"text": self.text, "severities": dict(self.severities)}


@dataclass(frozen=True)
class PromptConfig:
    """How the questions are put to the model: conversation template, score and describe questions, and
    whether the two images come before or after the question."""

    conv_template: str = "v1"
    question: str = DEFAULT_SCORE_QUESTION
    describe_question: str = DEPICT_QUESTION
    image_position: str = "before"
    # True: CD-Reasoning's evaluation prompts (cd_score.py / cd_description.py); the fields above are unused.
    original: bool = False

    def __post_init__(self):
        get_template(self.conv_template)
        if self.image_position not in IMAGE_POSITIONS:
            raise ValueError(f"image_position must be one of {IMAGE_POSITIONS}, got {self.image_position!r}")
        for option, text in (("--question", self.question), ("--describe-question", self.describe_question)):
            # The user message places the two placeholders itself;
            # another one in the question would be a -200 with no image.
            placeholder = next((p for p in (DEFAULT_IMAGE_TOKEN, *IMAGE_TOKEN_ALIASES) if p in text), None)
            if placeholder is not None:
                raise UsageError(
                    f"{option} contains the image placeholder {placeholder!r}: {text!r}",
                    hint="remove it; the two images are placed for you (--image-position before|after)",
                )

    def user_message(self, question: str) -> str:
        # Two placeholders, image A's first: the order in which a pair's pixel_values are stacked.
        images = DEFAULT_IMAGE_TOKEN * 2
        return f"{images}\n{question}" if self.image_position == "before" else f"{question}\n{images}"


class _PairImages(Dataset):
    """Item i: (i, the backbone's loaded pair, e.g. pixel_values [2, 3, S, S]) or (i, error message). Runs in
    DataLoader workers."""

    def __init__(self, pairs: Sequence[tuple], load_pair, image_folder: str | Path | None):
        self.pairs, self.load_pair, self.folder = pairs, load_pair, image_folder

    def __len__(self) -> int:
        return len(self.pairs)

    def _resolve(self, source):
        if isinstance(source, (str, Path)) and self.folder is not None and not Path(source).is_absolute():
            return Path(self.folder) / source
        return source

    def __getitem__(self, index: int):
        a, b = self.pairs[index]
        try:
            # An unreadable image becomes an error entry, not an
            # exception: one bad file must not stop a long run.
            return index, self.load_pair(self._resolve(a), self._resolve(b)), None
        except ImageError as exc:
            return index, None, str(exc)


# Identity collate: items carry an index and maybe an error, which default_collate cannot stack; the
# backbone batches the loaded pairs itself.
def _collate(items):
    return items


@dataclass(frozen=True)
class _ProcessorPair:
    """mPLUG-Owl2 pair loading with a given ImageProcessor (scores and descriptions may preprocess differently)."""

    processor: ImageProcessor

    def __call__(self, image_a, image_b) -> torch.Tensor:
        return self.processor([image_a, image_b])


class CDScorer:
    """Scores and describes the colour difference of image pairs with one loaded model (Python API of
    `cdreasoning score|describe`); build it with `CDScorer.from_pretrained(folder)`."""

    def __init__(
        self,
        model,
        tokenizer,
        image_processor: ImageProcessor,
        prompt: PromptConfig | None = None,
        levels: LevelScale | None = None,
        describe_image_processor: ImageProcessor | None = None,
    ):
        """`model` with its `tokenizer` and `image_processor` (an ImageProcessor for mPLUG-Owl2, the
        transformers processor for an HF VLM), or a backbone object as `model`."""
        self.backbone = as_backbone(model, tokenizer, image_processor)
        # eval(): no dropout, so a pair's score does not change from call to call.
        self.model = self.backbone.model.eval()
        self.tokenizer = self.backbone.tokenizer
        self.image_processor = image_processor if image_processor is not None else self.backbone.processor
        self.prompt = prompt or PromptConfig()
        self.levels = levels or LevelScale()
        # Descriptions may be preprocessed differently (the original crops them); scores use image_processor.
        self.describe_image_processor = describe_image_processor or self.image_processor
        if self.prompt.original:
            if self.backbone.kind != "mplug_owl2":
                raise ValueError(
                    "prompt='original' is CD-Reasoning's mPLUG-Owl2 prompt; not for " + self.backbone.kind
                )
            self._use_original_prompts(levels)
            # The original prompts are built as ids directly (no rendered text), hence the empty text.
            self._score_prompt = Prompt("", self._score_ids)
            self._describe_prompt = Prompt("", self._describe_ids)
            return
        conv = self.prompt.conv_template
        self._score_prompt = self.backbone.prompt(
            self.prompt.user_message(self.prompt.question), conv, self.levels.answer_prefix
        )
        self._score_ids = self._score_prompt.ids
        # Level ids found in context: prompt + " " + word, as
        # the answer continues the prompt (processing.levels).
        self._level_ids = level_token_ids(
            self.tokenizer, self._score_ids, self._score_prompt.text, self.levels, self.backbone.encode
        )
        self._describe_prompt = self.backbone.prompt(
            self.prompt.user_message(self.prompt.describe_question), conv
        )
        self._describe_ids = self._describe_prompt.ids
        # float32 weights: the expectation Σ p_i·w_i is taken next to the float32 probabilities, on the CPU.
        self._weights = torch.tensor(self.levels.weights, dtype=torch.float32)

    def _pair_loader(self, processor):
        """What DataLoader workers call per pair: the given ImageProcessor (mPLUG-Owl2) or the backbone's."""
        if self.backbone.kind == "mplug_owl2":
            return _ProcessorPair(processor)
        return self.backbone.load_pair

    def _use_original_prompts(self, levels: LevelScale | None) -> None:
        from cdreasoning.processing.original_prompt import (
            ORIGINAL_DESCRIBE_ASPECT_RATIO,
            ORIGINAL_LEVEL_WEIGHTS,
            original_prompts,
        )

        if levels is not None and levels != LevelScale(weights=ORIGINAL_LEVEL_WEIGHTS):
            raise ValueError("the original prompt has fixed level words and weights; do not pass levels")
        self.levels = LevelScale(weights=ORIGINAL_LEVEL_WEIGHTS)
        built = original_prompts(self.tokenizer)
        self._score_ids = built.score_model_ids()
        self._level_ids = built.level_ids
        self._describe_ids = built.describe_ids
        self._weights = torch.tensor(self.levels.weights, dtype=torch.float32)
        # Only when no separate describe processor was given: the original centre-crops description images.
        if self.describe_image_processor is self.image_processor:
            self.describe_image_processor = replace(
                self.image_processor, aspect_ratio=ORIGINAL_DESCRIBE_ASPECT_RATIO
            )

    # -- construction -----------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str = "auto",
        dtype: str | torch.dtype = "auto",
        conv_template: str = "v1",
        question: str | None = None,
        image_position: str = "before",
        attention: str = "auto",
        load_8bit: bool = False,
        load_4bit: bool = False,
        levels: LevelScale | None = None,
        prompt: str = "training",
        max_pixels: int | None = None,
    ) -> CDScorer:
        """Model, tokenizer and image preprocessing from one checkpoint folder.

        prompt: "training" (the template, question and image position given, default: as the model was
        trained) or "original" (CD-Reasoning's cd_score.py / cd_description.py prompts, token for token; then
        conv_template, question, image_position and levels must be left at their defaults).
        The family (mPLUG-Owl2 or an HF VLM) comes from config.json's model_type; `max_pixels` caps the pixels
        per image of dynamic-resolution HF processors (Qwen-VL).
        """
        if prompt not in PROMPTS:
            raise ValueError(f"prompt must be one of {PROMPTS}, got {prompt!r}")
        original = prompt == "original"
        if original and (question or levels or conv_template != "v1" or image_position != "before"):
            raise ValueError(
                "prompt='original' fixes the template, question, image position and levels of the original "
                "scripts; do not set conv_template, question, image_position or levels with it"
            )
        # the prompt first: a bad question fails before the model is loaded
        prompt_config = PromptConfig(
            conv_template="mplug_owl2" if original else conv_template,
            question=question or DEFAULT_SCORE_QUESTION,
            image_position="after" if original else image_position,
            original=original,
        )
        if original:
            from cdreasoning.processing.original_prompt import (
                ORIGINAL_DESCRIBE_QUESTION,
                ORIGINAL_SCORE_QUESTION,
            )

            prompt_config = replace(
                prompt_config, question=ORIGINAL_SCORE_QUESTION, describe_question=ORIGINAL_DESCRIBE_QUESTION
            )
        raw_config = read_checkpoint_config(path)  # the folder checked and config.json read once, here
        if detect_backbone(raw_config) == "hf_vlm":
            if original or load_8bit or load_4bit:
                raise ValueError(
                    f"{path}: prompt='original' and --load-8bit/--load-4bit are for mPLUG-Owl2 checkpoints only"
                )
            from cdreasoning.backbones.hf_vlm import load_hf_backbone

            backbone = load_hf_backbone(path, device, dtype, attention, max_pixels=max_pixels)
            return cls(backbone, None, backbone.processor, prompt_config, levels)
        from cdreasoning.model import CheckpointFolder

        checkpoint = CheckpointFolder.open(path, raw_config)  # that config, for every loader below
        torch_device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, torch_device)
        if load_8bit or load_4bit:
            model = _load_quantized(checkpoint, 8 if load_8bit else 4, torch_device, torch_dtype)
        else:
            model = checkpoint.load_model(device=torch_device, dtype=torch_dtype, attention=attention)
        tokenizer = checkpoint.load_tokenizer()
        processor = checkpoint.image_processor()
        return cls(model, tokenizer, processor, prompt_config, levels)

    @property
    def device(self) -> torch.device:
        return self.backbone.device

    @property
    def dtype(self) -> torch.dtype:
        return self.backbone.dtype

    # -- scoring ----------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def level_probabilities(self, pixel_values) -> torch.Tensor:
        """A pair batch of the backbone (mPLUG-Owl2: pixel_values [2B, 3, S, S], pairs in order) → level
        probabilities [B, n_levels] (float32)."""
        logits = self.backbone.answer_logits(self._score_prompt, pixel_values)
        # Q-Align's trick: a softmax over the level words' logits only (renormalised among them; the mass the
        # model puts on any other token is ignored), in float32 so fp16/bf16 logits do not saturate it.
        return logits[:, self._level_ids].float().softmax(-1).cpu()

    def _results(self, probabilities: torch.Tensor) -> list[ScoreResult]:
        from cdreasoning.inference.uncertainty import DEFAULT_COVERAGE, delta_v_interval, level_std

        # [B, n_levels] @ [n_levels] → [B]: the expected grade, Q-Align's score.
        scores = probabilities @ self._weights
        # level_std is numpy (shared with the torch-free evaluation), in float64.
        stds = level_std(probabilities.double().numpy(), self.levels.weights).reshape(-1)
        out = []
        for probs, score, std in zip(probabilities.tolist(), scores.tolist(), stds.tolist()):
            # A tie goes to the first (least severe) level, deterministically.
            best = max(range(len(probs)), key=probs.__getitem__)
            low, high = delta_v_interval(score, std, DEFAULT_COVERAGE, self.levels.weights)
            out.append(
                ScoreResult(
                    score=score,
                    level=self.levels.words[best],
                    probabilities=dict(zip(self.levels.words, probs)),
                    delta_v=float(delta_v_from_grade(score)),
                    std=std,
                    delta_v_low=low,
                    delta_v_high=high,
                    interval_coverage=DEFAULT_COVERAGE,
                )
            )
        return out

    def score(self, image_a, image_b) -> ScoreResult:
        """One pair (paths, PIL images or arrays)."""
        batch = self.backbone.collate([self._pair_loader(self.image_processor)(image_a, image_b)])
        return self._results(self.level_probabilities(batch))[0]

    def iter_batches(
        self,
        pairs: Sequence[tuple],
        batch_size: int = 16,
        num_workers: int = 0,
        image_folder: str | Path | None = None,
        processor: ImageProcessor | None = None,
    ) -> Iterator[tuple[list[int], object, list]]:
        """Preprocessed batches: (indices that loaded, the backbone's pair batch (mPLUG-Owl2: pixel_values
        [2k, 3, S, S]) or None, [(index, error)]). `processor`: the mPLUG-Owl2 image preprocessing (default: the
        scoring one, `image_processor`)."""
        if batch_size < 1:
            raise ValueError("batch_size must be ≥ 1")
        loader = DataLoader(
            _PairImages(pairs, self._pair_loader(processor or self.image_processor), image_folder),
            batch_size=batch_size,
            num_workers=num_workers,
            collate_fn=_collate,
            # Pinned host memory makes the batches' copy to the GPU faster.
            pin_memory=self.device.type == "cuda",
        )
        for items in loader:
            # Failed pairs are reported, not dropped silently; the rest of the batch still runs.
            ok = [(i, px) for i, px, err in items if err is None]
            failed = [(i, err) for i, _, err in items if err is not None]
            pixels = self.backbone.collate([px for _, px in ok]) if ok else None
            yield [i for i, _ in ok], pixels, failed

    def iter_scores(
        self,
        pairs: Sequence[tuple],
        batch_size: int = 16,
        num_workers: int = 0,
        image_folder: str | Path | None = None,
    ) -> Iterator[tuple[int, ScoreResult | None, str | None]]:
        """(index, result, None) or (index, None, error) for every pair, batch by batch."""
        for indices, pixels, failed in self.iter_batches(pairs, batch_size, num_workers, image_folder):
            # Errors first: their indices are known without a forward pass.
            yield from ((i, None, err) for i, err in failed)
            if indices:
                yield from (
                    (i, r, None) for i, r in zip(indices, self._results(self.level_probabilities(pixels)))
                )

    def score_pairs(
        self,
        pairs: Iterable[tuple],
        batch_size: int = 16,
        num_workers: int = 0,
        image_folder: str | Path | None = None,
    ) -> list[ScoreResult]:
        """Results in input order; raises ImageError naming the pair if an image cannot be read."""
        pairs = list(pairs)
        results: list[ScoreResult | None] = [None] * len(pairs)
        for index, result, error in self.iter_scores(pairs, batch_size, num_workers, image_folder):
            # score_pairs promises a result for every pair, so an unreadable image is an error here.
            if error:
                raise ImageError(f"pair {index} ({pairs[index][0]}, {pairs[index][1]}): {error}")
            results[index] = result
        return results

    # -- description -----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate_descriptions(
        self,
        pixel_values,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[str]:
        """A pair batch (mPLUG-Owl2: pixel_values [2B, 3, S, S]) → B generated texts (greedy when temperature
        is 0)."""
        return self.backbone.generate(
            self._describe_prompt,
            pixel_values,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
        )

    @staticmethod
    def _describe_result(text: str) -> Description:
        from cdreasoning.data.severity_parser import parse_severities

        return Description(text=text, severities=parse_severities(text))

    def describe(
        self,
        image_a,
        image_b,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> Description:
        """Generate a description of one pair and parse its per-attribute severities."""
        pixels = self.backbone.collate([self._pair_loader(self.describe_image_processor)(image_a, image_b)])
        return self._describe_result(
            self.generate_descriptions(pixels, max_new_tokens, temperature, top_p, seed)[0]
        )

    def iter_descriptions(
        self,
        pairs: Sequence[tuple],
        batch_size: int = 8,
        num_workers: int = 0,
        image_folder: str | Path | None = None,
        **generation,
    ) -> Iterator[tuple]:
        """(index, Description, None) or (index, None, error) for every pair."""
        batches = self.iter_batches(
            pairs, batch_size, num_workers, image_folder, processor=self.describe_image_processor
        )
        for indices, pixels, failed in batches:
            yield from ((i, None, err) for i, err in failed)
            if indices:
                texts = self.generate_descriptions(pixels, **generation)
                yield from ((i, self._describe_result(t), None) for i, t in zip(indices, texts))


def _load_quantized(checkpoint, bits: int, device: torch.device, dtype: torch.dtype):
    """8/4-bit weights through bitsandbytes (CUDA only), via transformers' quantised loading."""
    if device.type != "cuda":
        raise RuntimeError(
            f"--load-{bits}bit needs a CUDA GPU (bitsandbytes); on {device.type} load the model in "
            "float32 / bfloat16 instead"
        )
    try:
        # Imported only to fail early with an install hint; transformers imports it again itself.
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"--load-{bits}bit needs bitsandbytes: pip install 'cdreasoning[gpu]'") from exc
    from transformers import BitsAndBytesConfig

    from cdreasoning.model import MPLUGOwl2ForCausalLM

    quantization = BitsAndBytesConfig(
        load_in_8bit=bits == 8,
        load_in_4bit=bits == 4,
        bnb_4bit_compute_dtype=dtype,
        # NF4 with double quantisation: QLoRA's 4-bit recipe.
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        # Only the decoder is quantised: the vision tower, abstractor
        # and LM head (which gives the level logits) keep the dtype.
        llm_int8_skip_modules=["vision_model", "visual_abstractor", "lm_head"],
    )
    model = MPLUGOwl2ForCausalLM.from_pretrained(
        str(checkpoint.path),
        config=checkpoint.config,  # already read: transformers does not open config.json again
        quantization_config=quantization,
        dtype=dtype,
        # Every weight on the one chosen GPU; an index of None means "cuda", i.e. device 0.
        device_map={"": device.index or 0},
        local_files_only=True,
    )
    return model.eval()
