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


def _of_seven(fraction: float | None) -> str:
    """A mean number of attributes out of 7, e.g. "7 of 7" or "5.4 of 7" (never "1.000 of 7")."""
    if fraction is None:
        return "n/a"
    n = fraction * len(ATTRIBUTES)
    return f"{n:.0f} of 7" if abs(n - round(n)) < 0.05 else f"{n:.1f} of 7"


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
    values = [y for _, _, _, series in panels for _, ys in series.values() for y in ys if y > 0]
    # a log axis only helps when the loss falls by more than an order of magnitude; otherwise it hides the change
    log_y = bool(values) and max(values) / min(values) > 10
    return save_line_panels(panels, out / "training_loss.png", "training loss of the two stages", log_y=log_y)


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
    lines += [
        "",
        (
            "**The ground truth here is a proxy, not human judgement.** The proxy ΔV is computed from CIELAB "
            "differences of the two renders (a pooled ΔE-like term, a global colour-cast term and a texture term; "
            "docs/data.md). Pixel formulas such as CIEDE2000 and S-CIELAB therefore have an advantage on the "
            "pixel-aligned pairs that they do not have on SPCD's human ratings; compare methods on the "
            "not-aligned pairs too."
        ),
    ]
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


def _honesty_section(out: Path) -> list[str]:
    """Trivial baselines next to the MLLM's numbers, collapse flags, uncertainty and consistency."""
    from cdreasoning.evaluate.calibration import format_calibration
    from cdreasoning.evaluate.trivial_baselines import description_checks, score_checks

    lines = [
        "## Did the MLLM learn anything? (baselines and checks)",
        "",
        (
            "A constant answer has no rank correlation (SRCC / PLCC 0) and a STRESS that does not depend on the "
            "constant; always answering the most common test level gets the majority-class accuracy. A model "
            "that answers one level for ≥ 90 % of the pairs, or writes only a handful of distinct descriptions, "
            "is flagged **collapsed**: its accuracy is then the majority class's."
        ),
        "",
        (
            "| model | level accuracy | majority-class accuracy | most common answer (share) | levels used | "
            "STRESS of a constant (ΔV / level space) | collapsed? |"
        ),
        "|---|---:|---:|---|---:|---:|---|",
    ]
    notes = []
    for label in ("tiny-full", "tiny-lora"):
        c = score_checks(out / "eval" / label / "scores.csv")
        stress = c["constant_stress"]
        flag = "**yes**" if c["collapsed"] else "no"
        lines.append(
            f"| {label} | {_fmt(c['level_accuracy'])} | {_fmt(c['majority_level_accuracy'])} "
            f"({c['majority_level']}) | {c['top_level']} ({_fmt(c['top_level_share'], 2)}) | "
            f"{c['distinct_levels']} of 5 | {_fmt(stress['delta_v'], 1)} / {_fmt(stress['level'], 1)} | {flag} |"
        )
        report = _read_json(out / "eval" / label / "metrics.json")
        text = format_calibration(report.get("calibration"), report.get("consistency"))
        if text:
            notes += [f"- {label}: " + line for line in text.splitlines()]
    folder = out / "eval" / "tiny-lora-describe"
    d = description_checks(folder / "descriptions.jsonl")
    lines += [
        "",
        (
            f"Descriptions (tiny-lora): {d['distinct_texts']} distinct texts and {d['distinct_severity_patterns']} "
            f"distinct severity patterns for {d['n_descriptions']} pairs; answering every attribute with its most "
            f"common test severity scores {_fmt(d['majority_severity_accuracy'])} accuracy"
            + (
                " — **collapsed**: the description accuracy below is the majority class's."
                if d["collapsed"]
                else "."
            )
        ),
    ]
    agreement = _read_json(folder / "metrics.json").get("agreement")
    if agreement:
        from cdreasoning.evaluate.agreement import format_agreement

        lines += [
            "",
            format_agreement(agreement)
            + " (contradicting pairs: eval/tiny-lora-describe/contradictions.csv).",
        ]
    if notes:
        lines += [
            "",
            (
                "Uncertainty (the 80 % ΔV interval of each score, `std` of its level distribution; "
                "eval/<model>/reliability.png) and consistency (each pair also scored as (B, A), and images against "
                "themselves):"
            ),
            "",
            *notes,
        ]
    return [*lines, ""]


def _scatter_section(out: Path) -> list[str]:
    lines = [
        "## Prediction against the proxy ΔV",
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
        f"Attributes mentioned: {_of_seven(o['mentioned_fraction'])}; exact match of all seven: "
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


def _step_timings(out: Path, timings: dict[str, float]) -> dict[str, float]:
    """Timings of the steps that ran now, merged over those of earlier runs (OUT/step_timings.json), so that a
    reused step keeps the time it took when it ran."""
    path = out / "step_timings.json"
    merged = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    merged.update(timings)
    path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    return merged


def write_report(config, steps, timings: dict[str, float], total_seconds: float) -> Path:
    """Write OUT/report.md (and OUT/training_loss.png) from the steps' outputs; returns the report's path."""
    out = Path(config.out)
    meta = _read_json(out / "data" / "synth_meta.json")
    loss_png = _loss_curves(out, out / "models")
    all_timings = _step_timings(out, timings)
    measured = sum(all_timings.get(step.name, 0.0) for step in steps)
    reused = [step.name for step in steps if step.name not in timings]
    took = f"this run took {total_seconds / 60:.1f} min"
    if reused:
        took += (
            f" ({len(reused)} of {len(steps)} steps reused from an earlier run; all steps together took "
            f"{measured / 60:.1f} min when they ran)"
        )
    lines = [
        "# cdreasoning quickstart report",
        "",
        f"Written {time.strftime('%Y-%m-%d %H:%M')} on {_device_name(config.device)}; {took}.",
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
    lines += _honesty_section(out)
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
        seconds = all_timings.get(step.name)
        status = "time unknown" if seconds is None else f"{seconds:.0f} s"
        if step.name not in timings:
            status += ", reused"
        lines += [f"{step.title} ({status}):", "", "```bash", step.command_line(), "```", ""]
    model = out / "models" / "lora-merged"
    lines += [
        "## Try the model on your own pair",
        "",
        "```bash",
        f"cdreasoning score --model-path {model} A.png B.png      # score, level, std and the 80 % ΔV interval",
        f"cdreasoning describe --model-path {model} A.png B.png   # the seven attributes in words",
        f"cdreasoning demo --model-path {model}                   # the same on a local web page (127.0.0.1:7860)",
        "```",
        "",
        "(The tiny model has seen only the synthetic set: expect it to be as good as the numbers above say.)",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
