"""End to end: soft-label training lowers the held-out KL between the model's level distribution and the soft
targets, and the trained model's std / intervals are sane. Tiny model, synthetic set, a few dozen CPU steps."""

import math

import numpy as np
import pytest

from cdreasoning import CDScorer
from cdreasoning.data import read_spcd_csv, synthesize
from cdreasoning.train.finetune import main as finetune
from cdreasoning.train.soft_labels import soft_level_target


def _held_out(model_dir, data):
    """Mean KL(target ‖ model) over the test pairs, and the results."""
    pairs = read_spcd_csv(data / "test.csv")
    scorer = CDScorer.from_pretrained(model_dir, device="cpu")
    results = scorer.score_pairs(
        [(data / "images" / p.image_a, data / "images" / p.image_b) for p in pairs], batch_size=32
    )
    kls = []
    for pair, result in zip(pairs, results):
        t = soft_level_target(pair.delta_v)
        p = np.array(list(result.probabilities.values()))
        kls.append(sum(ti * math.log(ti / pi) for ti, pi in zip(t, p) if ti > 0))
    return float(np.mean(kls)), results


@pytest.mark.slow
def test_soft_label_training_lowers_held_out_kl(tiny_checkpoint, tmp_path):
    data = tmp_path / "synth"
    synthesize(data, scenes=10, seed=3, size=64, progress=False)
    before, _ = _held_out(tiny_checkpoint, data)
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(tiny_checkpoint),
            "--data_path", str(data / "score_task" / "train_data.json"),
            "--image_folder", str(data / "images"), "--output_dir", str(out), "--report_to", "none",
            "--max_steps", "40", "--per_device_train_batch_size", "8", "--learning_rate", "1e-3",
            "--weight_decay", "0", "--save_strategy", "no", "--logging_steps", "10",
            "--dataloader_num_workers", "0", "--model_max_length", "512", "--seed", "0",
            "--score_loss", "soft"]  # fmt: skip
    assert finetune(argv) == 0
    after, results = _held_out(out, data)
    assert after < before - 0.1, (before, after)
    for r in results:
        assert 0 <= r.std <= 2.5 and r.delta_v_low <= r.delta_v <= r.delta_v_high
