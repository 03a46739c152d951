"""Soft labels for score records: targets and KL pinned to hand-computed values, and the dataset/trainer wiring.

Expected numbers are computed by hand (see each comment), or by a reference implementation (torch's
cross-entropy, a normal table), never by the function under test.
"""

import json
import math

import numpy as np
import pytest
import torch

from cdreasoning.constants import CD_LEVELS, IGNORE_INDEX, IMAGE_TOKEN_INDEX
from cdreasoning.data import DataError
from cdreasoning.processing import ImageProcessor, get_template, load_tokenizer
from cdreasoning.train.dataset import ConversationDataset, DataCollator
from cdreasoning.train.soft_labels import (
    SoftLabelConfig,
    expanded_positions,
    gaussian_target,
    level_distribution_loss,
    soft_level_target,
    two_level_target,
)


def _delta_v(grade: float) -> float:
    # ΔV = 1.6036·exp(0.5391·G) − 1.2943 (FACTS §2), written out here independently of cdreasoning.scale
    return 1.6036 * math.exp(0.5391 * grade) - 1.2943


@pytest.mark.parametrize(
    ("grade", "expected"),
    [
        (2.0, [0, 0.4, 0.6, 0, 0]),  # between w1 = 1.25 and w2 = 2.5: p2 = 0.75 / 1.25
        (2.49, [0, 0.008, 0.992, 0, 0]),  # p2 = 1.24 / 1.25
        (1.51, [0, 0.792, 0.208, 0, 0]),  # p2 = 0.26 / 1.25
        (3.75, [0, 0, 0, 1, 0]),  # exactly on a weight: one-hot
        (4.5, [0, 0, 0, 0.4, 0.6]),  # p4 = (4.5 − 3.75) / 1.25
    ],
)
def test_two_level_target_hand_values(grade, expected):
    target = soft_level_target(_delta_v(grade))
    np.testing.assert_allclose(target, expected, atol=1e-9)
    assert target @ np.array([0, 1.25, 2.5, 3.75, 5]) == pytest.approx(grade)


def test_grades_outside_the_level_range_are_clipped():
    # ΔV 0.1 → G = ln(1.3943/1.6036)/0.5391 = −0.26 → 0; ΔV 30 → G = ln(31.2943/1.6036)/0.5391 = 5.51 → 5
    np.testing.assert_allclose(soft_level_target(0.1), [1, 0, 0, 0, 0])
    np.testing.assert_allclose(soft_level_target(30.0), [0, 0, 0, 0, 1])
    np.testing.assert_allclose(two_level_target(5.0), [0, 0, 0, 0, 1])


def test_gaussian_target_matches_a_normal_table():
    # G = 2.5, std 1.25: bin edges 0.625, 1.875, 3.125, 4.375 are z = −1.5, −0.5, 0.5, 1.5;
    # Φ(−1.5) = 0.066807, Φ(−0.5) = 0.308538 → p = [0.066807, 0.241731, 0.382925, 0.241731, 0.066807]
    # (symmetric, so its expectation is already 2.5 and the affine correction is the identity).
    target = soft_level_target(_delta_v(2.5), SoftLabelConfig(std=1.25))
    np.testing.assert_allclose(target, [0.066807, 0.241731, 0.382925, 0.241731, 0.066807], atol=2e-6)


@pytest.mark.parametrize("grade", [0.3, 1.1, 2.0, 3.3, 4.7])
@pytest.mark.parametrize("std", [0.3, 0.8, 2.0])
def test_gaussian_target_is_a_distribution_with_expectation_g(grade, std):
    target = gaussian_target(grade, std)
    assert target.min() >= 0 and target.sum() == pytest.approx(1.0)
    assert target @ np.array([0, 1.25, 2.5, 3.75, 5]) == pytest.approx(grade, abs=1e-9)


def test_soft_label_config_rejects_bad_values():
    with pytest.raises(ValueError, match="soft-label-std"):
        SoftLabelConfig(std=-1)
    with pytest.raises(ValueError, match="increasing"):
        SoftLabelConfig(weights=(0, 2, 1))


def test_kl_hand_value_and_its_two_parts():
    # vocabulary of 7, all logits 0 → p_V = 1/7; level ids 1..5; target (0, .4, .6, 0, 0)
    # full KL = .4·ln(.4·7) + .6·ln(.6·7) = 1.272899; on the 5-level softmax (1/5 each):
    # .4·ln(2) + .6·ln(3) = 0.936426; off-level term −ln(5/7) = 0.336472.
    logits = torch.zeros(1, 7, requires_grad=True)
    loss, parts = level_distribution_loss(logits, [1, 2, 3, 4, 5], torch.tensor([[0, 0.4, 0.6, 0, 0]]))
    assert loss.item() == pytest.approx(1.272899, abs=1e-6)
    assert parts["kl_levels"] == pytest.approx(0.936426, abs=1e-6)
    assert parts["out_of_levels"] == pytest.approx(0.336472, abs=1e-6)
    loss.backward()
    # d/dlogit_j of −Σ t_i log p_i = p_j − t_j (t padded with zeros outside the levels)
    expected = torch.tensor([[1 / 7, 1 / 7, 1 / 7 - 0.4, 1 / 7 - 0.6, 1 / 7, 1 / 7, 1 / 7]])
    torch.testing.assert_close(logits.grad, expected)


def test_one_hot_target_equals_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(4, 11)
    level_ids = [2, 3, 5, 7, 8]
    hard = torch.tensor([0, 2, 4, 1])
    targets = torch.nn.functional.one_hot(hard, 5).float()
    loss, _ = level_distribution_loss(logits, level_ids, targets)
    reference = torch.nn.functional.cross_entropy(logits, torch.tensor(level_ids)[hard])
    assert float(loss) == pytest.approx(float(reference), abs=1e-6)


def test_expanded_positions_follow_the_model_merge():
    from cdreasoning.model.merge import merge_images

    k = 3
    input_ids = torch.tensor(
        [
            [1, IMAGE_TOKEN_INDEX, IMAGE_TOKEN_INDEX, 5, 6, 7],
            [1, 4, IMAGE_TOKEN_INDEX, IMAGE_TOKEN_INDEX, 8, 0],
        ]
    )
    positions = torch.tensor([4, 4])
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[0, 4], labels[1, 4] = 1234, 1234
    embed = torch.nn.Embedding(10, 2)
    merged = merge_images(
        input_ids, torch.tensor([[1] * 6, [1] * 5 + [0]]), torch.zeros(4, k, 2), embed, labels
    )
    expected = [int((row == 1234).nonzero()) for row in merged.labels]
    assert expanded_positions(input_ids, positions, k).tolist() == expected == [8, 8]


def _records(tmp_path, delta_vs, n=None):
    """Score records with the given human ΔV, in the M-SPCD form (via the real builder)."""
    from cdreasoning.data import build_score_records
    from cdreasoning.data.spcd import SpcdPair

    pairs = [
        SpcdPair(f"I0001_0{i % 4}_01.png", "I0001_00_00.png", dv, i + 1) for i, dv in enumerate(delta_vs)
    ]
    records = [r.to_dict() for r in build_score_records(pairs, seed=0)]
    path = tmp_path / "score.json"
    path.write_text(json.dumps(records))
    return path


@pytest.fixture()
def images(tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (32, 32), (40 * i, 20, 200 - 30 * i)).save(folder / f"I0001_0{i}_01.png")
    Image.new("RGB", (32, 32), (128, 128, 128)).save(folder / "I0001_00_00.png")
    return folder


def _dataset(tiny_checkpoint, path, images, **kwargs):
    tokenizer = load_tokenizer(tiny_checkpoint)
    dataset = ConversationDataset(
        [path], tokenizer, get_template("v1"), ImageProcessor(size=64), images, 512, image_tokens=9, **kwargs
    )
    return dataset, tokenizer


def test_dataset_marks_the_level_position_and_its_target(tiny_checkpoint, tmp_path, images):
    delta_vs = [_delta_v(2.0), _delta_v(0.5), _delta_v(4.5)]
    dataset, tokenizer = _dataset(
        tiny_checkpoint, _records(tmp_path, delta_vs), images, soft_labels=SoftLabelConfig()
    )
    for index, (dv, expected) in enumerate(
        zip(delta_vs, [[0, 0.4, 0.6, 0, 0], [0.6, 0.4, 0, 0, 0], [0, 0, 0, 0.4, 0.6]])
    ):
        sample = dataset[index]
        position = sample["level_position"]
        level = dataset.items[index].level
        assert sample["input_ids"][position] == dataset.level_ids[CD_LEVELS.index(level)]
        assert sample["labels"][position] == IGNORE_INDEX
        # the other answer tokens are still supervised: the prefix before it and the rest after it
        assert (
            sample["labels"][position - 1] != IGNORE_INDEX and sample["labels"][position + 1] != IGNORE_INDEX
        )
        np.testing.assert_allclose(sample["level_target"], expected, atol=1e-9)
    batch = DataCollator(tokenizer.pad_token_id)([dataset[0], dataset[1]])
    assert batch["level_positions"].shape == (2,) and batch["level_targets"].shape == (2, 5)


def test_dataset_without_soft_labels_is_unchanged(tiny_checkpoint, tmp_path, images):
    dataset, _ = _dataset(tiny_checkpoint, _records(tmp_path, [3.0]), images)
    assert "level_position" not in dataset[0] and dataset.level_ids is None


def test_a_score_answer_without_its_level_word_is_refused(tiny_checkpoint, tmp_path, images):
    path = _records(tmp_path, [3.0])
    records = json.loads(path.read_text())
    records[0]["conversations"][1]["value"] = "The color difference between these two images is huge."
    path.write_text(json.dumps(records))
    dataset, _ = _dataset(tiny_checkpoint, path, images, soft_labels=SoftLabelConfig())
    with pytest.raises(DataError, match=r"record #0.*huge"):
        dataset[0]


def test_swap_pair_prob_reverses_the_image_order(tiny_checkpoint, tmp_path, images):
    path = _records(tmp_path, [3.0])
    straight, _ = _dataset(tiny_checkpoint, path, images, swap_pair_prob=0.0)
    swapped, _ = _dataset(tiny_checkpoint, path, images, swap_pair_prob=1.0)
    a = straight[0]["pixel_values"]
    b = swapped[0]["pixel_values"]
    torch.testing.assert_close(b, a.flip(0))
    with pytest.raises(ValueError, match="swap-pair-prob"):
        _dataset(tiny_checkpoint, path, images, swap_pair_prob=1.5)


@pytest.mark.parametrize(("lora", "asked"), [(False, True), (True, True), (False, False)])
def test_train_with_soft_labels_full_and_lora(tiny_checkpoint, synth_set, tmp_path, lora, asked):
    """`--score_loss soft` trains (full and LoRA) and logs the KL parts next to the loss; without
    `--score_loss` an mPLUG-Owl2 run trains the same way (soft is its default)."""
    from cdreasoning.train.finetune import main as finetune

    out = tmp_path / "run"
    argv = [
        "--model_name_or_path", str(tiny_checkpoint),
        "--data_path", str(synth_set / "train_mix.json"),
        "--image_folder", str(synth_set / "images"),
        "--output_dir", str(out),
        "--report_to", "none",
        "--per_device_train_batch_size", "4",
        "--gradient_accumulation_steps", "2",
        "--max_steps", "2",
        "--learning_rate", "1e-3",
        "--logging_steps", "1",
        "--save_strategy", "no",
        "--dataloader_num_workers", "0",
        "--model_max_length", "512",
        *(["--score_loss", "soft"] if asked else []),
        "--soft_label_std", "0.5",
        "--score_loss_weight", "2.0",
        "--lora_enable", str(lora),
        "--lora_r", "4",
        "--lora_alpha", "8",
    ]  # fmt: skip
    assert finetune(argv) == 0
    logs = [e for e in json.loads((out / "trainer_state.json").read_text())["log_history"] if "loss" in e]
    assert logs and all("score_kl" in e and e["score_kl"] >= 0 and e["score_off_levels"] >= 0 for e in logs)
    assert all(math.isfinite(e["loss"]) for e in logs)


def test_unknown_score_loss_is_refused():
    from cdreasoning.train.arguments import TrainingArguments

    with pytest.raises(ValueError, match="score-loss"):
        TrainingArguments(output_dir="x", score_loss="mse", use_cpu=True)


def test_trainer_loss_is_ce_on_other_tokens_plus_weighted_kl(tiny_checkpoint, tmp_path, images):
    """CDTrainer.compute_loss against an independent computation: the model's own CE with the level token
    ignored, plus weight × torch's kl_div on the full-vocabulary softmax (DeQA-Score's form) at the position
    before the level token, which follows the two images' 2·(k − 1) extra positions."""
    from cdreasoning import load_pretrained
    from cdreasoning.train.arguments import TrainingArguments
    from cdreasoning.train.trainer import CDTrainer

    delta_vs = [_delta_v(2.0), _delta_v(3.3)]
    dataset, tokenizer = _dataset(
        tiny_checkpoint, _records(tmp_path, delta_vs), images, soft_labels=SoftLabelConfig()
    )
    batch = DataCollator(tokenizer.pad_token_id)([dataset[0], dataset[1]])
    model = load_pretrained(tiny_checkpoint, device="cpu", dtype="float32")
    args = TrainingArguments(output_dir=str(tmp_path / "t"), use_cpu=True, report_to="none")
    trainer = CDTrainer(
        model=model, args=args, image_tokens=model.config.image_tokens, level_ids=dataset.level_ids,
        score_loss_weight=2.0,
    )  # fmt: skip
    model.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(model, dict(batch))
        plain = {k: v for k, v in batch.items() if not k.startswith("level_")}
        out = model(**plain)
        k = model.config.image_tokens
        rows = torch.arange(2)
        at = batch["level_positions"] + 2 * (k - 1) - 1
        log_probs = torch.log_softmax(out.logits[rows, at].float(), -1)
        full_target = torch.zeros_like(log_probs)
        full_target[:, dataset.level_ids] = batch["level_targets"]
        kl = torch.nn.functional.kl_div(log_probs, full_target, reduction="batchmean")
    assert float(loss) == pytest.approx(float(out.loss + 2.0 * kl), rel=1e-5)


def test_swap_draws_are_per_epoch_and_repeatable(tiny_checkpoint, tmp_path, images):
    path = _records(tmp_path, [3.0] * 40)
    dataset, _ = _dataset(tiny_checkpoint, path, images, swap_pair_prob=0.5, seed=3)
    first = [dataset.swapped(i) for i in range(40)]
    assert 10 < sum(first) < 30  # about half
    dataset.set_epoch(1)
    second = [dataset.swapped(i) for i in range(40)]
    assert second != first  # another order in another epoch
    dataset.set_epoch(0)
    assert [dataset.swapped(i) for i in range(40)] == first  # a pure function of (seed, epoch, index)


def test_identical_pair_prob_shows_one_image_twice_answered_negligible(tiny_checkpoint, tmp_path, images):
    """An identical pair is the record's first image (after the swap draw) twice, tokenised exactly as a record
    whose answer reads "negligible", with a one-hot soft target on "negligible" (ΔV 0 → G < 0 → clipped to 0)."""
    path = _records(tmp_path, [_delta_v(3.3)])
    records = json.loads(path.read_text())
    # a description record (free-form answer, no gt_score) is never made identical
    records.append(
        {
            "id": "d0",
            "image": ["I0001_01_01.png", "I0001_00_00.png"],
            "conversations": [
                {"from": "human", "value": "<|image|><|image|>\nDescribe the colour difference."},
                {"from": "gpt", "value": "The white balance differs slightly."},
            ],
        }
    )
    path.write_text(json.dumps(records))
    # the reference: the same record written out with the negligible answer, no augmentation
    written = json.loads(path.read_text())[:1]
    written[0]["conversations"][1]["value"] = "The color difference between these two images is negligible."
    reference_path = tmp_path / "negligible.json"
    reference_path.write_text(json.dumps(written))
    soft = SoftLabelConfig()
    plain, _ = _dataset(tiny_checkpoint, path, images, soft_labels=soft)
    reference, _ = _dataset(tiny_checkpoint, reference_path, images, soft_labels=soft)
    same, _ = _dataset(tiny_checkpoint, path, images, soft_labels=soft, identical_pair_prob=1.0)
    swapped_same, _ = _dataset(
        tiny_checkpoint, path, images, soft_labels=soft, identical_pair_prob=1.0, swap_pair_prob=1.0
    )
    a, b = plain[0]["pixel_values"]
    sample = same[0]
    torch.testing.assert_close(sample["pixel_values"], torch.stack([a, a]))
    torch.testing.assert_close(swapped_same[0]["pixel_values"], torch.stack([b, b]))
    assert sample["input_ids"] == reference[0]["input_ids"] != plain[0]["input_ids"]
    assert sample["labels"] == reference[0]["labels"]
    assert sample["input_ids"][sample["level_position"]] == same.level_ids[0]
    np.testing.assert_allclose(sample["level_target"], [1, 0, 0, 0, 0])
    # the description record is untouched
    assert same[1]["input_ids"] == plain[1]["input_ids"]
    torch.testing.assert_close(same[1]["pixel_values"], plain[1]["pixel_values"])
    with pytest.raises(ValueError, match="identical-pair-prob"):
        _dataset(tiny_checkpoint, path, images, identical_pair_prob=-0.1)


def test_identical_draws_are_their_own_and_repeatable(tiny_checkpoint, tmp_path, images):
    path = _records(tmp_path, [3.0] * 60)
    dataset, _ = _dataset(tiny_checkpoint, path, images, swap_pair_prob=0.5, identical_pair_prob=0.5, seed=3)
    identical = [dataset.identical(i) for i in range(60)]
    assert 15 < sum(identical) < 45  # about half
    assert identical != [dataset.swapped(i) for i in range(60)]  # not the swap's draw
    dataset.set_epoch(1)
    assert [dataset.identical(i) for i in range(60)] != identical
    dataset.set_epoch(0)
    assert [dataset.identical(i) for i in range(60)] == identical
    off, _ = _dataset(tiny_checkpoint, path, images, identical_pair_prob=0.0)
    assert not any(off.identical(i) for i in range(60))
