"""Training data: conversation records → token ids, labels and images, and the collator that batches them.

    dataset = ConversationDataset(["train.json"], tokenizer, template, image_processor, image_folder, max_length)
    batch = DataCollator(pad_token_id)([dataset[0], dataset[1]])
    # input_ids [b, t] (right padded), attention_mask [b, t], labels [b, t], pixel_values [n_images, 3, S, S]

Records are read and validated by `cdreasoning.data.read_conversations` (every `<|image|>` / `<image>` must match
an image). Only the assistant answers and their `</s>` are supervised (see `cdreasoning.processing`). Nothing is
dropped silently: a record that cannot be used — an image that does not load, a sample longer than
`max_length` — raises `DataError` naming the file and the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from cdreasoning.constants import IGNORE_INDEX
from cdreasoning.data import DataError, read_conversations
from cdreasoning.errors import ImageError
from cdreasoning.processing import ImageProcessor, tokenize_conversation
from cdreasoning.processing.templates import ConversationTemplate

_ROLES = {"human": 0, "gpt": 1}


class ConversationDataset(Dataset):
    """Training conversations (one or more JSON files) → tokenised samples with their preprocessed images;
    a bad record or image raises naming the file and record."""

    def __init__(
        self,
        paths: list[str | Path],
        tokenizer,
        template: ConversationTemplate,
        image_processor: ImageProcessor,
        image_folder: str | Path | None,
        max_length: int,
        image_tokens: int,
        lazy: bool = True,
    ):
        self.tokenizer, self.template, self.processor = tokenizer, template, image_processor
        self.image_folder = Path(image_folder) if image_folder else None
        self.max_length, self.image_tokens = max_length, image_tokens
        self.items = [record for path in paths for record in read_conversations(path)]
        if not self.items:
            raise DataError(f"no training records in {paths}")
        self._tokens: list | None = None
        if not lazy:
            self._tokens = [self._tokenize(i) for i in range(len(self.items))]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def lengths(self) -> list[int]:
        """Cheap length estimate per record (words + image tokens), for length-grouped batching."""
        return [
            sum(len(turn.value.split()) for turn in record.turns) + self.image_tokens * len(record.images)
            for record in self.items
        ]

    def _tokenize(self, index: int):
        record = self.items[index]
        turns = [(self.template.roles[_ROLES[turn.role]], turn.value) for turn in record.turns]
        try:
            tokens = tokenize_conversation(self.tokenizer, self.template, turns)
        except ValueError as exc:
            raise DataError(f"{record.where}: {exc}") from None
        images = record.images
        if tokens.num_images != len(images):
            raise DataError(
                f"{record.where}: {tokens.num_images} image placeholder(s) for {len(images)} image(s)"
            )
        expanded = len(tokens.input_ids) + (self.image_tokens - 1) * len(images)
        if expanded > self.max_length:
            raise DataError(
                f"{record.where}: {expanded} tokens (images expanded) exceed --model_max_length "
                f"{self.max_length}; shorten the record or raise the limit"
            )
        if all(label == IGNORE_INDEX for label in tokens.labels):
            raise DataError(f"{record.where}: no assistant answer to learn from")
        return tokens

    def __getitem__(self, index: int) -> dict:
        record = self.items[index]
        tokens = self._tokens[index] if self._tokens is not None else self._tokenize(index)
        paths = [self.image_folder / name if self.image_folder else Path(name) for name in record.images]
        try:
            pixel_values = self.processor(paths) if paths else None
        except ImageError as exc:
            raise DataError(f"{record.where}: {exc}") from None
        return {"input_ids": tokens.input_ids, "labels": tokens.labels, "pixel_values": pixel_values}


@dataclass
class DataCollator:
    """Right-pads a list of samples into one batch; images of all samples are concatenated in order."""

    pad_token_id: int

    def __call__(self, samples: list[dict]) -> dict:
        width = max(len(s["input_ids"]) for s in samples)
        input_ids = torch.full((len(samples), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(samples), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(samples), width), dtype=torch.long)
        for row, sample in enumerate(samples):
            n = len(sample["input_ids"])
            input_ids[row, :n] = torch.tensor(sample["input_ids"])
            labels[row, :n] = torch.tensor(sample["labels"])
            attention_mask[row, :n] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        images = [s["pixel_values"] for s in samples if s["pixel_values"] is not None]
        if images:
            batch["pixel_values"] = torch.cat(images)
        return batch
