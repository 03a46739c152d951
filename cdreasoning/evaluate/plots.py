"""The figures of the evaluation reports: score scatter plots, confusion heatmaps, leaderboard bars.

Figures are drawn on `matplotlib.figure.Figure` objects (Agg canvas), never through pyplot, so writing a
report does not touch the global backend or leak figures in a long process. matplotlib is imported only
when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "ScatterPanel",
    "save_confusion_heatmaps",
    "save_grouped_bars",
    "save_line_panels",
    "save_scatter_panels",
]


@dataclass
class ScatterPanel:
    """One scatter panel: prediction (x) against human judgement (y).

    curve: (x, y) samples of a fitted mapping drawn over the points (the logistic fit), or None.
    identity: draw y = x (level space, where no fit is applied).
    absent: when set, the panel shows this reason instead of points.
    """

    title: str
    x: Sequence[float] = ()
    y: Sequence[float] = ()
    xlabel: str = "prediction"
    ylabel: str = "human"
    curve: tuple[Sequence[float], Sequence[float]] | None = None
    identity: bool = False
    absent: str | None = None


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save_scatter_panels(rows: Sequence[Sequence[ScatterPanel]], path: str | Path, title: str) -> Path:
    """A grid of scatter panels (rows × columns) saved as PNG."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig = _figure(4.2 * n_cols, 3.8 * n_rows)
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(row):
                ax.set_axis_off()
                continue
            panel = row[c]
            ax.set_title(panel.title, fontsize=9)
            if panel.absent:
                ax.text(
                    0.5,
                    0.5,
                    panel.absent,
                    ha="center",
                    va="center",
                    wrap=True,
                    fontsize=9,
                    transform=ax.transAxes,
                )
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            x = np.asarray(panel.x, dtype=float)
            y = np.asarray(panel.y, dtype=float)
            ax.scatter(
                x,
                y,
                s=6 if x.size > 500 else 14,
                alpha=0.35 if x.size > 500 else 0.7,
                color="tab:blue",
                edgecolors="none",
            )
            if panel.identity:
                lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
                ax.plot([lo, hi], [lo, hi], color="0.4", linestyle="--", linewidth=1, label="y = x")
            if panel.curve is not None:
                ax.plot(panel.curve[0], panel.curve[1], color="tab:red", linewidth=1.5, label="logistic fit")
            if panel.identity or panel.curve is not None:
                ax.legend(loc="upper left", fontsize=7)
            ax.set_xlabel(panel.xlabel, fontsize=8)
            ax.set_ylabel(panel.ylabel, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def save_confusion_heatmaps(
    matrices: dict[str, np.ndarray], labels: Sequence[str], path: str | Path, title: str
) -> Path:
    """3×3 confusion matrices (rows reference, columns prediction) as annotated heatmaps, one per panel."""
    names = list(matrices)
    n_cols = min(4, len(names))
    n_rows = (len(names) + n_cols - 1) // n_cols
    fig = _figure(3.3 * n_cols, 3.1 * n_rows)
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False)).reshape(-1)
    for ax, name in zip(axes, names):
        matrix = np.asarray(matrices[name], dtype=float)
        totals = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                ax.text(
                    j,
                    i,
                    f"{int(matrix[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if share[i, j] > 0.6 else "black",
                )
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("reference", fontsize=8)
        ax.set_title(name, fontsize=9)
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def save_grouped_bars(
    panels: Sequence[tuple[str, Sequence[str], dict[str, Sequence[float | None]]]],
    path: str | Path,
    title: str,
) -> Path:
    """Grouped bar charts: each panel is (title, group names, {series name: value per group}).

    A None value (metric absent for that method/subset) leaves a gap labelled "n/a".
    """
    n = len(panels)
    n_cols = min(3, n)
    n_rows = (n + n_cols - 1) // n_cols
    fig = _figure(5.0 * n_cols, 3.8 * n_rows)
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False)).reshape(-1)
    names = list(dict.fromkeys(name for _, _, series in panels for name in series))
    colours = {name: f"C{i % 10}" for i, name in enumerate(names)}  # one colour per series in every panel
    for ax, (panel_title, groups, series) in zip(axes, panels):
        n_series = max(1, len(series))
        width = 0.8 / n_series
        positions = np.arange(len(groups), dtype=float)
        for k, (name, values) in enumerate(series.items()):
            xs = positions - 0.4 + width * (k + 0.5)
            heights = [np.nan if v is None else float(v) for v in values]
            bars = ax.bar(
                xs, np.nan_to_num(heights, nan=0.0), width=width * 0.95, label=name, color=colours[name]
            )
            for bar, h in zip(bars, heights):
                label = "n/a" if np.isnan(h) else (f"{h:.3f}" if abs(h) < 10 else f"{h:.1f}")
                ax.annotate(
                    label,
                    (bar.get_x() + bar.get_width() / 2, 0 if np.isnan(h) else h),
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    rotation=90 if n_series > 3 else 0,
                )
        ax.set_xticks(positions, groups, fontsize=8)
        ax.set_title(panel_title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="y", labelsize=7)
    if panels:
        # one legend for the figure, below the panels, so that it never covers a bar
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, loc="outside lower center", ncols=min(len(labels), 5))
    for ax in axes[n:]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def save_line_panels(
    panels: Sequence[tuple[str, str, str, dict[str, tuple[Sequence[float], Sequence[float]]]]],
    path: str | Path,
    title: str,
    log_y: bool = False,
) -> Path:
    """Line plots side by side: each panel is (title, x label, y label, {series name: (xs, ys)}); e.g. the
    training loss of each stage over its steps. `log_y` draws the y axis logarithmically (losses that fall by
    orders of magnitude)."""
    n = max(1, len(panels))
    fig = _figure(4.8 * n, 3.4)
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)).reshape(-1)
    for ax, (panel_title, xlabel, ylabel, series) in zip(axes, panels):
        for name, (xs, ys) in series.items():
            ax.plot(list(xs), list(ys), label=name, linewidth=1.2)
        if log_y:
            ax.set_yscale("log")
        ax.set_title(panel_title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        if len(series) > 1:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
