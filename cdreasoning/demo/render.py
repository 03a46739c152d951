"""What the demo page shows, made from a `PairAnalysis` (text, tables, images; no Gradio here, so it is tested
without a server).

    score_markdown(analysis)          # "Score 2.62 / 5 · level significant · ΔV 5.30 …"
    probability_table(analysis)       # rows (level, probability) for the bar chart, in scale order
    severity_rows(analysis)           # the seven attributes with the parsed severity or "not mentioned"
    baseline_rows(analysis)           # CIEDE2000, S-CIELAB, CD-Flow (when loaded)
    heat_map_image(analysis)          # (H, W, 3) uint8 ΔE00 map with a colour bar, or None (not aligned)
    colour_markdown(analysis)         # the alignment verdict and the two mean colours as swatches
"""

from __future__ import annotations

import html

import numpy as np

from cdreasoning.constants import ATTRIBUTE_LABELS, ATTRIBUTES

__all__ = [
    "baseline_rows",
    "colour_markdown",
    "heat_map_image",
    "probability_table",
    "score_markdown",
    "severity_rows",
]

NOT_MENTIONED = "not mentioned"


def score_markdown(analysis) -> str:
    """The model's answer in one block: score, level, ΔV and (when the scorer gives one) its interval."""
    numbers = analysis.to_dict()["score"]
    lines = [
        f"## Score {numbers['score']:.2f} / 5 · level **{numbers['level']}**",
        f"ΔV (SPCD scale) **{numbers['delta_v']:.2f}**",
    ]
    if "delta_v_low" in numbers and "delta_v_high" in numbers:
        coverage = numbers.get("coverage")
        share = f"{coverage:.0%} " if isinstance(coverage, float) else ""
        lines[-1] += f", {share}interval [{numbers['delta_v_low']:.2f}, {numbers['delta_v_high']:.2f}]"
    if "std" in numbers:
        lines.append(f"spread of the level distribution: ±{numbers['std']:.2f} grades")
    lines.append(
        "score = Σ p(level) · [0, 1.25, 2.5, 3.75, 5]; ΔV = 1.6036·exp(0.5391·score) − 1.2943 "
        "(0 = identical, larger = more different)"
    )
    return "\n\n".join(lines)


def probability_table(analysis) -> dict[str, list]:
    """{"level": [...], "probability": [...]}: the five level probabilities in the scale's order."""
    probabilities = analysis.score.probabilities
    return {"level": list(probabilities), "probability": [float(p) for p in probabilities.values()]}


def severity_rows(analysis) -> list[list[str]]:
    """[attribute label, severity] for the seven M-SPCD attributes (severities parsed from the description)."""
    severities = analysis.description.severities if analysis.description is not None else {}
    return [[ATTRIBUTE_LABELS[name], severities.get(name, NOT_MENTIONED)] for name in ATTRIBUTES]


def baseline_rows(analysis) -> list[list]:
    """[method, value, what it is] for the classical and learned baselines of the same pair."""
    rows = [
        [
            "CIEDE2000",
            round(analysis.ciede2000, 4),
            "mean ΔE00 over pixels (eval baseline --method ciede2000)",
        ],
        [
            "S-CIELAB",
            round(analysis.scielab, 4),
            "mean ΔE00 after the eye's spatial filtering (eval baseline --method scielab)",
        ],
    ]
    if analysis.cdflow is not None:
        rows.append(["CD-Flow", round(analysis.cdflow, 4), "learned metric (cdflow test)"])
    else:
        rows.append(["CD-Flow", None, "not loaded (start the page with --cdflow CKPT)"])
    return rows


def heat_map_image(analysis, width_px: int = 640) -> np.ndarray | None:
    """The per-pixel ΔE00 of an aligned pair as an (H, W, 3) uint8 picture with a colour bar (magma, 0 to the
    99th percentile or at least 5 ΔE00, so faint maps stay faint); None when the pair is not aligned."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    delta_e = analysis.delta_e_map
    if delta_e is None:
        return None
    height, width = delta_e.shape
    top = max(5.0, float(np.percentile(delta_e, 99)))
    dpi = 100
    figure = Figure(figsize=(width_px / dpi, width_px / dpi * height / width * 0.85 + 0.6), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    shown = axes.imshow(delta_e, cmap="magma", vmin=0.0, vmax=top, interpolation="nearest")
    axes.set_axis_off()
    mean = float(np.mean(delta_e, dtype=np.float64))
    axes.set_title(f"ΔE00 per pixel: mean {mean:.2f}, 95th percentile {np.percentile(delta_e, 95):.2f}")
    figure.colorbar(shown, ax=axes, label="ΔE00", fraction=0.046, pad=0.02)
    figure.tight_layout()
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def _swatch(rgb: tuple[int, int, int], caption: str) -> str:
    colour = "#{:02x}{:02x}{:02x}".format(*rgb)
    return (
        f'<span style="display:inline-block;width:2.2em;height:1.2em;background:{colour};'
        f'border:1px solid #888;vertical-align:middle"></span> {html.escape(caption)} {colour}'
    )


def colour_markdown(analysis) -> str:
    """Why the map is (not) shown, and the two mean colours with their ΔE00."""
    alignment = analysis.alignment
    if alignment.aligned:
        verdict = (
            f"**Pixel-aligned** ({html.escape(alignment.reason)}): the map shows where the colours differ."
        )
    else:
        verdict = (
            f"**Not aligned**: no per-pixel map for this pair ({html.escape(alignment.reason)}). "
            "Tick the box above if the two images are edits of one photo."
        )
    first, second = analysis.mean_colours
    means = (
        f"Mean colours: {_swatch(first, 'reference')} &nbsp; {_swatch(second, 'test')} &nbsp; "
        f"ΔE00 between them **{analysis.mean_colour_delta_e:.2f}**"
    )
    return f"{verdict}\n\n{means}"
