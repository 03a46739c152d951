"""Splice image features into the token sequence: every `-200` sentinel becomes that image's k visual tokens.

    input_ids [b, t] (one IMAGE_TOKEN_INDEX per image, in order)     image_features [n, k, H]
    → embeds [b, L, H], attention_mask [b, L], position_ids [b, L], visual [b, L], labels [b, L]

with L = max over rows of (t + (k − 1)·images in the row). Images are taken in order of appearance over the
batch (row 0 left to right, then row 1, …), which is the order of `pixel_values`. The count of sentinels must
equal the number of images; otherwise an error names both counts.

Padding keeps its side: right-padded rows (training) get extra padding at the end, left-padded rows
(generation) at the front, so the last real token stays last. Positions count real tokens only
(cumsum(mask) − 1), so a sample gets the same positions, and the same logits, alone or in a padded batch.
Everything is computed with tensor indexing, without Python loops over tokens or images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cdreasoning.constants import IGNORE_INDEX, IMAGE_TOKEN_INDEX


@dataclass
class MergedInputs:
    """Decoder inputs after the image features replaced their placeholders (shapes in the field comments)."""

    embeds: torch.Tensor  # [b, L, H]
    attention_mask: torch.Tensor  # [b, L] long, 1 = real token
    position_ids: torch.Tensor  # [b, L]
    visual: torch.Tensor  # [b, L] bool, True = visual token
    labels: torch.Tensor | None  # [b, L], IGNORE_INDEX at images and padding


def positions_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """0, 1, 2, … over the real tokens of each row; padding gets 0."""
    # Padding before the first real token would get −1; its value never matters (masked), clamp keeps it ≥ 0.
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def is_left_padded(attention_mask: torch.Tensor) -> bool:
    """True when every row ends with a real token and some row starts with padding (generation's layout)."""
    return bool(attention_mask[:, -1].all()) and not bool(attention_mask[:, 0].all())


def merge_images(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    image_features: torch.Tensor | None,
    embed_tokens: torch.nn.Embedding,
    labels: torch.Tensor | None = None,
) -> MergedInputs:
    b, t = input_ids.shape
    device = input_ids.device
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    attention_mask = attention_mask.long()
    is_image = input_ids == IMAGE_TOKEN_INDEX
    n_placeholders = int(is_image.sum())
    n_images = 0 if image_features is None else int(image_features.shape[0])
    if n_placeholders != n_images:
        raise ValueError(
            f"{n_placeholders} image placeholder(s) (token {IMAGE_TOKEN_INDEX}) in input_ids but {n_images} "
            "image(s) in pixel_values; each image needs exactly one placeholder, in order"
        )
    if labels is not None and labels.shape != input_ids.shape:
        raise ValueError(
            f"labels {list(labels.shape)} must have the shape of input_ids {list(input_ids.shape)}"
        )
    # A sentinel inside padding would expand into an invisible image: almost surely a collation bug.
    if n_images and bool((attention_mask[is_image] == 0).any()):
        raise ValueError(
            "an image placeholder is masked out by attention_mask (padding cannot hold an image)"
        )

    # The sentinel (-200) is not a vocabulary id: embed a harmless id 0 there; those rows are overwritten below.
    text_embeds = embed_tokens(input_ids.masked_fill(is_image, 0))  # [b, t, H]
    if n_images == 0:
        visual = torch.zeros(b, t, dtype=torch.bool, device=device)
        return MergedInputs(
            text_embeds,
            attention_mask,
            positions_from_mask(attention_mask),
            visual,
            # Padding is never supervised, even where the caller left a label.
            labels.masked_fill(attention_mask == 0, IGNORE_INDEX) if labels is not None else None,
        )

    k = image_features.shape[1]
    span = torch.where(is_image, k, 1)  # tokens each input position becomes
    start = span.cumsum(1) - span  # [b, t] first output position of each input position
    row_length = span.sum(1)
    length = int(row_length.max())
    # Rows expand by different amounts (different image counts); a left-padded batch must stay left-padded
    # after expansion (generation appends at the right end), so shorter rows are shifted right, not padded there.
    if is_left_padded(attention_mask):
        start = start + (length - row_length)[:, None]

    # Flat (row, column) destinations of every text token and every image token in the expanded sequence.
    rows = torch.arange(b, device=device)[:, None].expand(b, t)
    is_text = ~is_image
    text_rows, text_cols = rows[is_text], start[is_text]
    img_rows, img_pos = torch.nonzero(is_image, as_tuple=True)  # row-major = order of appearance
    img_start = start[img_rows, img_pos]
    # Image i occupies k consecutive columns from where its sentinel landed.
    img_cols = img_start[:, None] + torch.arange(k, device=device)[None, :]  # [n, k]
    img_rows = img_rows[:, None].expand(-1, k)

    hidden = text_embeds.shape[-1]
    # Scatter (index_put) instead of a Python loop over rows: the same few kernels for any batch, and autograd
    # flows to both the text embeddings and the image features.
    embeds = text_embeds.new_zeros(b, length, hidden)
    embeds = embeds.index_put((text_rows, text_cols), text_embeds[is_text])
    embeds = embeds.index_put((img_rows, img_cols), image_features.to(embeds.dtype))

    # Text positions copy their mask (padding stays 0); columns nobody writes (a short row's tail) stay 0 too.
    mask = attention_mask.new_zeros(b, length)
    mask[text_rows, text_cols] = attention_mask[is_text]
    mask[img_rows, img_cols] = 1
    # `visual` routes each position to the decoder's visual or text weights (modality-adaptive K/V and norms).
    visual = torch.zeros(b, length, dtype=torch.bool, device=device)
    visual[img_rows, img_cols] = True

    new_labels = None
    if labels is not None:
        # Image positions are never supervised (there is no token to predict there), and neither is padding:
        # start from all-ignored and copy the text labels to where their tokens moved.
        new_labels = labels.new_full((b, length), IGNORE_INDEX)
        new_labels[text_rows, text_cols] = labels[is_text]
        new_labels = new_labels.masked_fill(mask == 0, IGNORE_INDEX)
    return MergedInputs(embeds, mask, positions_from_mask(mask), visual, new_labels)
