"""Evaluation: severity parsing, description metrics, score reports, CIE / S-CIELAB baselines, leaderboards."""

from cdreasoning.evaluate.description_metrics import DescriptionMetrics, description_metrics, write_description_report
from cdreasoning.evaluate.score_report import (
    ScoreRow,
    format_score_table,
    load_score_report,
    read_score_predictions,
    score_metrics,
    write_score_report,
)
from cdreasoning.evaluate.severity_parser import SeverityParse, parse_severities, parse_severities_detailed

__all__ = [
    "DescriptionMetrics",
    "ScoreRow",
    "SeverityParse",
    "format_score_table",
    "load_score_report",
    "read_score_predictions",
    "score_metrics",
    "write_score_report",
    "description_metrics",
    "parse_severities",
    "parse_severities_detailed",
    "write_description_report",
]
