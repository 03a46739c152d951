"""The mPLUG-Owl2 backbone: the project's native model, prompted and fed exactly as before the seam existed.

Prompts are rendered with the conversation template the model was trained with (`v1` / `mplug_owl2`) and
tokenised with one −200 sentinel per image; every pair of a batch shares the prompt, so a batch is the prompt
repeated with the pairs' images ([2b, 3, S, S]) and needs no padding (a pair's score does not depend on its
batch). The reference-fixture tests of the original implementation run through this path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cdreasoning.backbones.base import Prompt
from cdreasoning.processing import ImageProcessor, get_template, tokenize_prompt
from cdreasoning.processing.chunk_encoding import chunk_encoder

# Parts of the model by parameter-name prefix (used to freeze and to pick LoRA targets).
OWL2_PARTS = {
    "vision": ("model.vision_model.",),
    "projector": ("model.visual_abstractor.",),
}
OWL2_LORA_TARGETS = ("q_proj", "v_proj.multiway.1")  # the CD-Reasoning recipe


@dataclass
class Owl2Backbone:
    model: torch.nn.Module
    tokenizer: object
    image_processor: ImageProcessor
    kind: str = "mplug_owl2"
    model_type: str = "mplug_owl2"

    @property
    def device(self) -> torch.device:
        # The LM head's device and dtype: where the logits
        # come out (under device_map the model may span GPUs).
        return self.model.lm_head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.lm_head.weight.dtype

    # -- prompts -------------------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return tokenize_prompt(self.tokenizer, text)

    def prompt(self, user_message: str, conv_template: str, answer_prefix: str | None = None) -> Prompt:
        template = get_template(conv_template)
        text = template.render_prompt([template.user_turn(user_message)], answer_prefix)
        return Prompt(text, self.encode(text))

    # -- images ----------------------------------------------------------------------------------------------------
    def load_pair(self, image_a, image_b) -> torch.Tensor:
        """pixel_values [2, 3, S, S]."""
        return self.image_processor([image_a, image_b])

    def collate(self, items: list[torch.Tensor]) -> torch.Tensor:
        """pixel_values [2b, 3, S, S] (pairs in order)."""
        # Pairs concatenated in order: images 2i and 2i + 1 are
        # pair i, matching each prompt row's two sentinels.
        return torch.cat(items)

    # -- model -----------------------------------------------------------------------------------------------------
    def answer_logits(self, prompt: Prompt, batch: torch.Tensor) -> torch.Tensor:
        """batch: pixel_values [2b, 3, S, S] → next-token logits [b, v] after the prompt."""
        # No padding: every row is the same prompt, so a pair's logits do not depend on the rest of the batch.
        pairs = batch.shape[0] // 2
        input_ids = torch.tensor([prompt.ids] * pairs, device=self.device)
        return self.model(
            input_ids=input_ids, pixel_values=batch.to(self.device, self.dtype), logits_to_keep=1
        ).logits[:, -1]

    def generate(
        self,
        prompt: Prompt,
        batch: torch.Tensor,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[str]:
        pairs = batch.shape[0] // 2
        input_ids = torch.tensor([prompt.ids] * pairs, device=self.device)
        generator = None
        if seed is not None:
            # A generator on the model's device: sampling draws there, reproducibly per seed.
            generator = torch.Generator(device=self.device).manual_seed(seed)
        tokens = self.model.generate(
            input_ids,
            pixel_values=batch.to(self.device, self.dtype),
            max_new_tokens=max_new_tokens,
            # temperature 0 selects greedy decoding; the value passed then is unused.
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else 1.0,
            top_p=top_p,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            generator=generator,
        )
        encoder = chunk_encoder(self.tokenizer)  # the checkpoint's SentencePiece decodes as the original did
        texts = []
        for row in tokens.tolist():
            # Cut at the first EOS: finished rows were padded after it.
            if self.tokenizer.eos_token_id in row:
                row = row[: row.index(self.tokenizer.eos_token_id)]
            text = encoder.decode(row) if encoder else self.tokenizer.decode(row, skip_special_tokens=True)
            texts.append(text.strip())
        return texts


def load_owl2_backbone(path, device="auto", dtype="auto", attention: str = "auto") -> Owl2Backbone:
    """Model (strict load), tokenizer and image preprocessing of an mPLUG-Owl2-layout checkpoint folder."""
    from cdreasoning.model import load_pretrained
    from cdreasoning.model.loading import read_config
    from cdreasoning.processing import load_tokenizer

    config = read_config(path)
    model = load_pretrained(path, device=device, dtype=dtype, attention=attention)
    processor = ImageProcessor.from_pretrained(path, default_size=config.vision.image_size)
    return Owl2Backbone(model.eval(), load_tokenizer(path), processor)
