"""How much colour difference can a *linear read-out* of a frozen vision tower recover? (a diagnostic, not a test)

    python scripts/probe_vision.py --data runs/synth90 --model-path runs/quickstart/models/tiny-init
    python scripts/probe_vision.py --data runs/synth90 --model-path CKPT --position-scale 1,10   # the init question

Why: when the MLLM learns less than a pixel formula, the question is whether the information is missing from the
tower's features or the abstractor + LLM fail to read it out. This script answers the first half. Each image of
the set (`cdreasoning data synth` layout: train/val/test CSVs and images/) goes once through the checkpoint's
vision tower (eval mode, no gradients) → tokens [n, 1 + g², D] → per image the mean token, the mean squared
token and the class token ([n, 3·D]). A pair is described by |f_A − f_B| and (f_A − f_B)² ([6·D]), standardised
on the training pairs; ridge regression onto the pair's ΔV is fitted on train, its penalty chosen by val SRCC,
and the script prints train / val / test SRCC (test: all / aligned / not aligned). Compare it with the MLLM's
and CIEDE2000's SRCC from `scripts/bench_learning.py` on the same set.

`--position-scale S` multiplies the tower's learned position embeddings by S before probing (1 = as stored).
A random tower's pre-LayerNorm divides each token by its own spread; with position embeddings much smaller than
the patch projection (std 0.02 against ~0.3 at random initialisation) it keeps a patch's colour *direction* but
loses most of its brightness, and larger position embeddings keep more of it (docs/training.md has the numbers).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, help="a synthetic set (train.csv, val.csv, test.csv, images/)"
    )
    parser.add_argument(
        "--model-path", required=True, help="an Owl2-layout checkpoint folder (its vision tower)"
    )
    parser.add_argument(
        "--position-scale", default="1", help="comma list of factors on the position embeddings (default 1)"
    )
    parser.add_argument(
        "--ridge",
        default="1,10,100,1000",
        help="comma list of ridge penalties; val SRCC picks one (default: %(default)s)",
    )
    parser.add_argument("--batch-size", type=int, default=128, help="images per forward pass")
    return parser


def ridge_probe(features: dict, splits: dict, penalties: list[float]) -> dict:
    """Fit ridge on splits["train"], pick the penalty by val SRCC, return SRCC per split and test subset.

    features: image name → 1-D numpy vector. splits: name → list of (image_a, image_b, delta_v, aligned | None).
    Returns {"penalty", "train", "val", "test", "test_aligned", "test_not_aligned"} (SRCC; None when < 3 pairs).
    """
    import numpy as np
    from scipy.stats import spearmanr

    def design(pairs):
        diff = np.stack([features[a] - features[b] for a, b, _, _ in pairs])
        return np.concatenate([np.abs(diff), diff**2], axis=1)

    def srcc(pred, pairs):
        if len(pairs) < 3:
            return None
        return float(spearmanr(pred, [p[2] for p in pairs])[0])

    x_train = design(splits["train"])
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8
    x = {name: (design(pairs) - mean) / std for name, pairs in splits.items()}
    y = np.array([p[2] for p in splits["train"]])
    gram, target = x["train"].T @ x["train"], x["train"].T @ (y - y.mean())
    best = None
    for penalty in penalties:
        weights = np.linalg.solve(gram + penalty * np.eye(gram.shape[0]), target)
        val = srcc(x["val"] @ weights, splits["val"])
        if best is None or (val or -1.0) > (best[0] or -1.0):
            best = (val, penalty, weights)
    _, penalty, weights = best
    result = {"penalty": penalty}
    for name, pairs in splits.items():
        result[name] = srcc(x[name] @ weights, pairs)
    test = splits["test"]
    for label, flag in (("test_aligned", True), ("test_not_aligned", False)):
        subset = [i for i, p in enumerate(test) if p[3] is flag]
        result[label] = srcc(x["test"][subset] @ weights, [test[i] for i in subset])
    return result


def _tower_features(model_path: Path, data: Path, names: list[str], scales: list[float], batch_size: int):
    """Per scale: image name → [3·D] (mean token, mean squared token, class token) of the vision tower's output.

    The checkpoint is loaded and every image read and preprocessed once; only the position embeddings change
    between scales.
    """
    import torch
    from PIL import Image

    from cdreasoning.model.modeling import MPLUGOwl2ForCausalLM
    from cdreasoning.processing.images import ImageProcessor

    tower = MPLUGOwl2ForCausalLM.from_pretrained(model_path).eval().model.vision_model
    positions = tower.embeddings.position_embedding
    stored = positions.detach().clone()
    processor = ImageProcessor.from_pretrained(model_path)
    pixels = processor([Image.open(data / "images" / n).convert("RGB") for n in names])  # [n, 3, S, S]
    for scale in scales:
        features = {}
        with torch.no_grad():
            positions.copy_(stored * scale)
            for start in range(0, len(names), batch_size):
                tokens = tower(pixels[start : start + batch_size])  # [b, 1 + g², D]
                stats = torch.cat([tokens.mean(1), tokens.pow(2).mean(1), tokens[:, 0]], dim=1)
                features.update(zip(names[start : start + batch_size], stats.numpy()))
        yield scale, features


def _numbers(text: str, flag: str) -> list[float]:
    """A comma list of positive numbers, or a one-line error naming the flag."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"probe_vision: {flag} must be a comma list of numbers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise SystemExit(f"probe_vision: {flag} values must be > 0, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from cdreasoning.data import read_spcd_csv

    penalties, scales = _numbers(args.ridge, "--ridge"), _numbers(args.position_scale, "--position-scale")
    data = Path(args.data)
    for needed in (data / "train.csv", data / "val.csv", data / "test.csv", data / "images"):
        if not needed.exists():
            raise SystemExit(
                f"probe_vision: {needed} does not exist (--data must be a `cdreasoning data synth` set)"
            )
    if not (Path(args.model_path) / "config.json").is_file():
        raise SystemExit(
            f"probe_vision: {args.model_path} has no config.json (--model-path: an Owl2 checkpoint folder)"
        )
    splits = {}
    for name in ("train", "val", "test"):
        pairs = read_spcd_csv(data / f"{name}.csv")
        splits[name] = [(p.image_a, p.image_b, p.delta_v, p.aligned) for p in pairs]
    names = sorted({n for pairs in splits.values() for a, b, _, _ in pairs for n in (a, b)})
    print("position scale | ridge | SRCC train | val | test all | aligned | not aligned")
    for scale, features in _tower_features(Path(args.model_path), data, names, scales, args.batch_size):
        r = ridge_probe(features, splits, penalties)
        cells = [r[k] for k in ("train", "val", "test", "test_aligned", "test_not_aligned")]
        print(
            f"{scale:g} | {r['penalty']:g} | " + " | ".join("—" if c is None else f"{c:.3f}" for c in cells)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
