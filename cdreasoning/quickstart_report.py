"""OUT/report.md of the quickstart (`cdreasoning.quickstart`): what ran, the numbers, the plots, examples.

Everything in it is read from the files the quickstart's steps wrote (no model is loaded here):

- data/synth_meta.json            the synthetic set (scenes, pairs per split, aligned / not aligned)
- leaderboard/leaderboard.md      every method on the identical test pairs, all / aligned / not aligned
- eval/<method>/scatter.png       prediction vs human per subset (the score report of each method)
- models/{full,lora}/trainer_state.json   the training loss of the two fine-tuning stages → training_loss.png
- eval/tiny-lora-describe/        severity accuracy of the descriptions, confusion.png, descriptions.jsonl

A file that a finished step should have written but is missing raises FileNotFoundError naming it.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from cdreasoning.constants import ATTRIBUTE_LABELS, ATTRIBUTES

__all__ = ["write_report"]

SCORE_METHODS = (
    ("tiny-full", "tiny model, full fine-tuning (the base)"),
    ("tiny-lora", "tiny model, + LoRA fine-tuning"),
    ("ciede2000", "CIEDE2000, mean over pixels"),
    ("scielab", "S-CIELAB (spatial filtering, then ΔE00)"),
    ("cdflow", "CD-Flow (small), trained on the same pairs"),
)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected output of a quickstart step is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def _fmt(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _device_name(device: str) -> str:
    import torch

    from cdreasoning.runtime import resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(resolved)})"
    if resolved.type == "mps":
        return "Apple MPS"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _loss_curves(out: Path, models: Path) -> Path | None:
    from cdreasoning.evaluate.plots import save_line_panels

    panels = []
    for stage, title in (("full", "full fine-tuning"), ("lora", "LoRA on the base")):
        state = _read_json(models / stage / "trainer_state.json")
        points = [(e["step"], e["loss"]) for e in state["log_history"] if "loss" in e and "step" in e]
        if points:
            xs, ys = zip(*points)
            panels.append((title, "optimizer step", "training loss (answer tokens)", {stage: (xs, ys)}))
    if not panels:
        return None
    return save_line_panels(panels, out / "training_loss.png", "training loss of the two stages", log_y=True)


def _data_section(out: Path, meta: dict[str, Any]) -> list[str]:
    from cdreasoning.data.spcd import read_spcd_csv

    params, counts = meta["parameters"], meta["counts"]
    lines = ["## Data", ""]
    lines.append(
        f"A synthetic SPCD-like set (`cdreasoning data synth`, seed {params['seed']}): {counts['scenes']} scenes "
        f"of {params['size']} px cut from photographs bundled with installed packages, {counts['images']} images; "
        "per scene, phone-like captures (own look and framing: not pixel-aligned) and ISP-style edits of the "
        "reference (pixel-aligned). Ground truth: a perceptual proxy ΔV on SPCD's scale and per-attribute "
        "severities from the edit strengths (see docs/data.md). Scenes are split 70/10/20, no scene in two "
        "splits."
    )
    lines += ["", "| split | pairs | pixel-aligned | not aligned |", "|---|---:|---:|---:|"]
    for split in ("train", "val", "test"):
        pairs = read_spcd_csv(out / "data" / f"{split}.csv")
        aligned = sum(p.aligned for p in pairs)
        lines.append(f"| {split} | {len(pairs)} | {aligned} | {len(pairs) - aligned} |")
    return lines


def _leaderboard_section(out: Path) -> list[str]:
    text = (out / "leaderboard" / "leaderboard.md").read_text(encoding="utf-8")
    body = []
    for line in text.splitlines():
        if line.startswith("# "):
            continue  # the leaderboard's own title
        body.append("#" + line if line.startswith("## ") else line)
    while body and not body[0].strip():
        body.pop(0)
    return [
        "## Scores on the held-out test pairs",
        "",
        *body,
        "",
        "![leaderboard](leaderboard/leaderboard.png)",
        "",
    ]


def _scatter_section(out: Path) -> list[str]:
    lines = [
        "## Prediction against human ΔV",
        "",
        (
            "Each method's score report (`eval/<method>/`: metrics.json, predictions.csv, scatter.png). The MLLM "
            "rows show both conventions: level space without a fit (top) and ΔV space with the logistic fit "
            "(bottom)."
        ),
        "",
    ]
    for label, title in SCORE_METHODS:
        png = out / "eval" / label / "scatter.png"
        if not png.is_file():
            raise FileNotFoundError(f"{png}: expected output of a quickstart step is missing")
        lines += [f"### {title}", "", f"![{label}](eval/{label}/scatter.png)", ""]
    return lines


def _description_section(out: Path, examples: int) -> list[str]:
    folder = out / "eval" / "tiny-lora-describe"
    report = _read_json(folder / "metrics.json")
    m = report["metrics"]
    lines = [
        "## Descriptions (tiny-lora)",
        "",
        (
            f"{m['n_descriptions']} test pairs described (greedy); the seven severities are parsed from the "
            "generated text and compared with the ground truth."
        ),
        "",
        "| attribute | accuracy | macro-F1 | mean abs. severity error | rated |",
        "|---|---:|---:|---:|---:|",
    ]
    for attribute in ATTRIBUTES:
        a = m["per_attribute"][attribute]
        rated = a["n_rated"] / a["n_cells"] if a["n_cells"] else None
        lines.append(
            f"| {ATTRIBUTE_LABELS[attribute]} | {_fmt(a['accuracy'])} | {_fmt(a['macro_f1'])} | "
            f"{_fmt(a['mae'])} | {_fmt(rated)} |"
        )
    o = m["overall"]
    lines.append(
        f"| **all** | {_fmt(o['accuracy'])} | {_fmt(o['macro_f1'])} | {_fmt(o['mae'])} | "
        f"{_fmt(o['rated_fraction'])} |"
    )
    sim = m["text_similarity"]
    lines += [
        "",
        f"Attributes mentioned: {_fmt(o['mentioned_fraction'])} of 7; exact match of all seven: "
        f"{_fmt(o['exact_match'])}; "
        + (
            "text similarity absent"
            if "absent" in sim
            else f"BLEU {sim['bleu']:.2f}, ROUGE-L F {sim['rouge_l_f']:.3f}"
        )
        + ".",
        "",
        "![confusion](eval/tiny-lora-describe/confusion.png)",
        "",
    ]
    if examples:
        lines += ["### Examples", ""]
        records = [
            json.loads(line)
            for line in (folder / "descriptions.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        for record in records[:examples]:
            a, b = record["images"]
            # HTML for the thumbnails: markdown has no size, and the synthetic images are tiny.
            lines += [
                f"**{a} vs {b}**",
                "",
                (
                    f'<img src="data/images/{a}" alt="{a}" width="160"> '
                    f'<img src="data/images/{b}" alt="{b}" width="160">'
                ),
                "",
                f"- model: {record['generated']}",
                f"- ground truth: {record['reference']}",
                "",
                "| attribute | model | ground truth |",
                "|---|---|---|",
            ]
            predicted, truth = record["predicted_severities"], record["reference_severities"]
            for attribute in ATTRIBUTES:
                p, t = predicted.get(attribute, "—"), truth.get(attribute, "—")
                mark = " ✓" if p == t else ""
                lines.append(f"| {ATTRIBUTE_LABELS[attribute]} | {p}{mark} | {t} |")
            lines.append("")
    return lines


def write_report(config, steps, timings: dict[str, float], total_seconds: float) -> Path:
    """Write OUT/report.md (and OUT/training_loss.png) from the steps' outputs; returns the report's path."""
    out = Path(config.out)
    meta = _read_json(out / "data" / "synth_meta.json")
    loss_png = _loss_curves(out, out / "models")
    lines = [
        "# cdreasoning quickstart report",
        "",
        (
            f"Written {time.strftime('%Y-%m-%d %H:%M')} on {_device_name(config.device)}; this run took "
            f"{total_seconds / 60:.1f} min (steps reused from an earlier run take no time)."
        ),
        "",
        (
            "A tiny two-image mPLUG-Owl2 model was fine-tuned on a synthetic SPCD-like set (full, then LoRA), then "
            "scored and described the held-out pairs; CIEDE2000, S-CIELAB and a small CD-Flow trained on the same "
            "pairs were evaluated on the identical pairs. The numbers show the pipeline working end to end on a "
            "CPU-sized model, not what the 7B model reaches on SPCD."
        ),
        "",
    ]
    lines += _leaderboard_section(out)
    lines += _scatter_section(out)
    lines += _description_section(out, config.examples)
    if loss_png is not None:
        lines += ["## Training", "", "![training loss](training_loss.png)", ""]
    lines += _data_section(out, meta)
    lines += [
        "",
        "## What ran",
        "",
        "Each step is a `cdreasoning` command (run it by hand to redo a step with other settings):",
        "",
    ]
    for step in steps:
        took = timings.get(step.name)
        status = f"{took:.0f} s" if took is not None else "reused"
        lines += [f"{step.title} ({status}):", "", "```bash", step.command_line(), "```", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
