"""Training data: conversation records → token ids, labels and images, and the collator that batches them.

    dataset = ConversationDataset(["train.json"], tokenizer, template, image_processor, image_folder, max_length)
    batch = DataCollator(pad_token_id)([dataset[0], dataset[1]])
    # input_ids [b, t] (right padded), attention_mask [b, t], labels [b, t], pixel_values [n_images, 3, S, S]

Records are read and validated by `cdreasoning.data.read_conversations` (every `<|image|>` / `<image>` must match
an image). Only the assistant answers and their `</s>` are supervised (see `cdreasoning.processing`). Nothing is
dropped silently: a record that cannot be used — an image that does not load, a sample longer than
`max_length` — raises `DataError` naming the file and the record.

Score records (answer "The color difference between these two images is {level}.") get two options:

- `swap_pair_prob`: with this probability the two images are given in the order (B, A) — a colour difference
  has no direction, and random order teaches the model so (`--swap-pair-prob`, default 0.5). The draw is a
  pure function of (seed, epoch, record index) — `CDTrainer` tells the dataset the epoch — so it does not
  consume the global RNG: a run resumed from a checkpoint sees the same orders as an uninterrupted one.
- `identical_pair_prob`: with this probability the record is shown as an image against itself (one of its two
  images, twice, after the swap draw) with the answer "… is negligible." and, with soft labels, a one-hot
  target on "negligible" (ΔV 0). Nothing in a rated set shows the model that identical images differ by
  nothing, and without it a trained model scores an image against itself like a typical pair
  (`--identical-pair-prob`, default 0). Drawn like the swap, from (seed, epoch, record index).
- `soft_labels` (`--score-loss soft`): for a record with a human ΔV (`gt_score`), the sample also carries
  `level_position` (index in `input_ids` of the level word's first sub-token, whose label is then IGNORE_INDEX)
  and `level_target` (the distribution over the levels, `cdreasoning.train.soft_labels`). The position is where
  the scorer reads the level logits: the tokens of the prompt rendered up to the answer prefix must be a prefix
  of the record's tokens, and the next token must be the record's level word, or a DataError says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from cdreasoning.constants import ANSWER_PREFIX, CD_LEVELS, IGNORE_INDEX
from cdreasoning.data import DataError, read_conversations
from cdreasoning.errors import ImageError
from cdreasoning.processing import ImageProcessor, tokenize_conversation
from cdreasoning.processing.templates import ConversationTemplate
from cdreasoning.train.pair_draws import PairDraws
from cdreasoning.train.soft_labels import SoftLabelConfig, soft_level_target

# The conversation files' LLaVA-style roles → the template's (user, assistant) roles.
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
        swap_pair_prob: float = 0.0,
        soft_labels: SoftLabelConfig | None = None,
        seed: int = 0,
        identical_pair_prob: float = 0.0,
    ):
        self.draws = PairDraws(seed, swap_pair_prob, identical_pair_prob)
        self.tokenizer, self.template, self.processor = tokenizer, template, image_processor
        self.soft_labels = soft_labels
        self.image_folder = Path(image_folder) if image_folder else None
        self.max_length, self.image_tokens = max_length, image_tokens
        # Read and validated up front: a bad record fails at start-up, not hours into training.
        self.items = [record for path in paths for record in read_conversations(path)]
        if not self.items:
            raise DataError(f"no training records in {paths}")
        self.level_ids: list[int] | None = None
        if soft_labels is not None:
            self.level_ids = self._level_ids()
        self._tokens: list | None = None
        if not lazy:
            # Eager tokenisation (lazy=False) surfaces every bad record before the first step.
            self._tokens = [self._tokenize(i) for i in range(len(self.items))]

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next items belong to (it varies the score pairs' draws between epochs)."""
        self.draws.epoch = int(epoch)

    def swapped(self, index: int) -> bool:
        """Whether record `index` is shown as (B, A) in the current epoch (module doc)."""
        return self.draws.swapped(index)

    def identical(self, index: int) -> bool:
        """Whether score record `index` is shown as an image against itself in the current epoch (module doc)."""
        return self.draws.identical(index)

    @property
    def lengths(self) -> list[int]:
        """Cheap length estimate per record (words + image tokens), for length-grouped batching."""
        # Words, not tokens: tokenising every record here would cost a full pass over the data.
        return [
            sum(len(turn.value.split()) for turn in record.turns) + self.image_tokens * len(record.images)
            for record in self.items
        ]

    def _tokenize(self, index: int, answer: str | None = None):
        """Record `index` tokenised; `answer` replaces the answer of a one-round record."""
        record = self.items[index]
        turns = [(self.template.roles[_ROLES[turn.role]], turn.value) for turn in record.turns]
        if answer is not None:
            turns[-1] = (turns[-1][0], answer)
        try:
            tokens = tokenize_conversation(self.tokenizer, self.template, turns)
        except ValueError as exc:
            raise DataError(f"{record.where}: {exc}") from None
        images = record.images
        if tokens.num_images != len(images):
            raise DataError(
                f"{record.where}: {tokens.num_images} image placeholder(s) for {len(images)} image(s)"
            )
        # The limit applies to the sequence the decoder sees, where each image is image_tokens positions.
        expanded = len(tokens.input_ids) + (self.image_tokens - 1) * len(images)
        if expanded > self.max_length:
            raise DataError(
                f"{record.where}: {expanded} tokens (images expanded) exceed --model_max_length "
                f"{self.max_length}; shorten the record or raise the limit"
            )
        # A record with nothing supervised adds no gradient: a data error rather than a silent no-op.
        if all(label == IGNORE_INDEX for label in tokens.labels):
            raise DataError(f"{record.where}: no assistant answer to learn from")
        return tokens

    # -- soft labels ---------------------------------------------------------------------------------------
    def _prompt_ids(self, turns: list[tuple[str, str]]) -> tuple[str, list[int]]:
        from cdreasoning.processing import tokenize_prompt

        text = self.template.render_prompt(turns, ANSWER_PREFIX)
        return text, tokenize_prompt(self.tokenizer, text)

    def _level_ids(self) -> list[int]:
        """First sub-token id of each level word where it follows the answer prefix (as the scorer reads it)."""
        from cdreasoning.processing import tokenize_prompt
        from cdreasoning.processing.levels import LevelScale, level_token_ids

        # Any question works: only the prompt's end (the answer prefix) decides the level ids.
        text, ids = self._prompt_ids([self.template.user_turn("<|image|><|image|>\nHow?")])
        return level_token_ids(
            self.tokenizer, ids, text, LevelScale(), lambda t: tokenize_prompt(self.tokenizer, t)
        )

    def _level_supervision(
        self, record, input_ids: list[int], identical: bool = False
    ) -> tuple[int, list[float]] | None:
        """(position of the level token in input_ids, target distribution), or None for records without a
        human ΔV or that are not one-round score records. `identical`: the record shown as an image against
        itself, whose answer is "negligible" and whose ΔV is 0."""
        # Soft labels only for one-round score records with a human ΔV; the others keep their hard labels.
        if record.gt_score is None or len(record.turns) != 2 or record.level is None:
            return None
        level = CD_LEVELS[0] if identical else record.level.strip().lower()
        gt_score = 0.0 if identical else record.gt_score
        if level not in CD_LEVELS:
            raise DataError(f"{record.where}: score answer level {record.level!r} is not one of {CD_LEVELS}")
        turns = [(self.template.roles[0], record.turns[0].value)]
        _, prompt_ids = self._prompt_ids(turns)
        # The level token follows the prompt's tokens directly,
        # since render_prompt is a prefix of the training text.
        position = len(prompt_ids)
        expected = self.level_ids[CD_LEVELS.index(level)]
        # An answer that tokenises differently from the scorer's
        # prompt would put the soft label on the wrong token.
        if (
            input_ids[:position] != prompt_ids
            or position >= len(input_ids)
            or input_ids[position] != expected
        ):
            raise DataError(
                f"{record.where}: the answer does not tokenise as the answer prefix followed by the level word "
                f"{level!r} (token {expected}), so the soft label has no position; check the answer text"
            )
        try:
            target = soft_level_target(gt_score, self.soft_labels)
        except ValueError as exc:
            raise DataError(f"{record.where}: gt_score {gt_score!r}: {exc}") from None
        return position, target.tolist()

    def __getitem__(self, index: int) -> dict:
        record = self.items[index]
        paths = [self.image_folder / name if self.image_folder else Path(name) for name in record.images]
        is_score = record.kind == "score" and len(paths) == 2
        paths, answer = self.draws.apply(index, record, paths)  # the swap and identical-pair draws
        identical = answer is not None
        if identical:
            tokens = self._tokenize(index, answer=answer)
        else:
            tokens = self._tokens[index] if self._tokens is not None else self._tokenize(index)
        try:
            pixel_values = self.processor(paths) if paths else None
        except ImageError as exc:
            raise DataError(f"{record.where}: {exc}") from None
        sample = {"input_ids": tokens.input_ids, "labels": tokens.labels, "pixel_values": pixel_values}
        if self.soft_labels is not None:
            supervision = self._level_supervision(record, tokens.input_ids, identical) if is_score else None
            # Samples without a soft label still carry the keys
            # (position −1), so the collator stacks every batch.
            position, target = supervision or (-1, [0.0] * len(self.level_ids))
            if position >= 0:
                sample["labels"] = list(tokens.labels)
                # The level token is supervised by the soft-label loss instead of cross-entropy (never both).
                sample["labels"][position] = IGNORE_INDEX
            sample["level_position"], sample["level_target"] = position, target
        return sample


@dataclass
class DataCollator:
    """Right-pads a list of samples into one batch; images of all samples are concatenated in order.

    Samples with soft labels add `level_positions` [b] (−1: none) and `level_targets` [b, n_levels]."""

    pad_token_id: int

    def __call__(self, samples: list[dict]) -> dict:
        width = max(len(s["input_ids"]) for s in samples)
        # Right padding (training): labels there stay IGNORE_INDEX
        # and the mask 0, so padding never enters the loss.
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
            # [n_images, 3, S, S] in sample order, which is the
            # order of the -200 sentinels row by row (merge_images).
            batch["pixel_values"] = torch.cat(images)
        if "level_position" in samples[0]:
            batch["level_positions"] = torch.tensor([s["level_position"] for s in samples], dtype=torch.long)
            batch["level_targets"] = torch.tensor([s["level_target"] for s in samples], dtype=torch.float32)
        return batch
