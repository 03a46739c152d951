"""Evaluation: severity parsing, description metrics, score reports, CIE / S-CIELAB baselines, leaderboards."""

from cdreasoning.evaluate.severity_parser import SeverityParse, parse_severities, parse_severities_detailed

__all__ = ["SeverityParse", "parse_severities", "parse_severities_detailed"]
