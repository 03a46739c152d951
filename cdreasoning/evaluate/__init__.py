"""Evaluation of colour-difference predictions and descriptions (`cdreasoning eval --help`).

- `parse_severities(text)`: the seven attribute severities of a free-text description.
- `description_metrics` / `write_description_report(_from_records)`: severity accuracy, macro-F1, MAE,
  coverage, confusion matrices, BLEU / ROUGE-L of generated descriptions against human answers.
- `ScoreRow`, `score_metrics` / `write_score_report`: STRESS, PLCC, SRCC, KRCC, RMSE in level space (no fit)
  and ΔV space (logistic fit) on all / pixel-aligned / not-aligned pairs, with CSV and scatter plots.
- `BaselineConfig`, `run_baseline`: mean CIE ΔE76 / ΔE94 / ΔE00 and S-CIELAB over an SPCD pair list.
- `compare_results` / `write_leaderboard`: one leaderboard from several score reports on identical pairs.

Importing this package is light (numpy / scipy): matplotlib, colour-science, sacrebleu and rouge-score are
imported only by the functions that need them, torch never.
"""

from cdreasoning.data.severity_parser import SeverityParse, parse_severities, parse_severities_detailed
from cdreasoning.evaluate.baseline import BASELINE_METHODS, BaselineConfig, run_baseline
from cdreasoning.evaluate.colour_difference import DELTA_E_METHODS, delta_e, mean_delta_e, srgb_to_lab
from cdreasoning.evaluate.compare import ComparisonError, Leaderboard, compare_results, write_leaderboard
from cdreasoning.evaluate.description_metrics import (
    DescriptionMetrics,
    description_metrics,
    write_description_report,
    write_description_report_from_records,
)
from cdreasoning.evaluate.scielab import ViewingConditions, mean_scielab
from cdreasoning.evaluate.score_report import (
    ScoreRow,
    format_score_table,
    load_score_report,
    read_score_predictions,
    score_metrics,
    write_score_report,
)

__all__ = [
    "BASELINE_METHODS",
    "DELTA_E_METHODS",
    "BaselineConfig",
    "ComparisonError",
    "DescriptionMetrics",
    "Leaderboard",
    "ScoreRow",
    "SeverityParse",
    "ViewingConditions",
    "compare_results",
    "delta_e",
    "description_metrics",
    "format_score_table",
    "load_score_report",
    "mean_delta_e",
    "mean_scielab",
    "parse_severities",
    "parse_severities_detailed",
    "read_score_predictions",
    "run_baseline",
    "score_metrics",
    "srgb_to_lab",
    "write_description_report",
    "write_description_report_from_records",
    "write_leaderboard",
    "write_score_report",
]
