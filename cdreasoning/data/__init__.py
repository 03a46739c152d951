"""SPCD / M-SPCD data: readers, builders, checks and a synthetic SPCD-like set (`cdreasoning data --help`).

Readers return typed, validated records (frozen dataclasses) and raise `DataError` naming the file, the record
(index and id / line) and the problem: `read_spcd_csv` → `SpcdPair`, `read_conversations` →
`ConversationRecord` (score and depict training conversations), `read_depict_tests` → `DepictTestRecord`,
`read_severity_table` → `SeverityItem`. Builders turn them into M-SPCD records; `check_dataset` inspects a
file; `synthesize` writes a complete SPCD-like set from photographs bundled with installed packages.
"""

from cdreasoning.data.check import CheckReport, Problem, check_dataset
from cdreasoning.data.conversations import (
    ConversationRecord,
    Turn,
    canonical_placeholders,
    count_placeholders,
    parse_conversations,
    read_conversations,
)
from cdreasoning.data.depict import DepictTestRecord, read_depict_tests
from cdreasoning.data.depict_task import SeverityItem, build_describe_records, read_severity_table
from cdreasoning.data.descriptions import ATTRIBUTE_NAMES, describe_severities
from cdreasoning.data.errors import DataError
from cdreasoning.data.jsonio import write_json
from cdreasoning.data.mix import MixResult, mix_conversation_files, mix_records
from cdreasoning.data.score_task import build_score_records, dedupe_pairs
from cdreasoning.data.spcd import SpcdPair, read_spcd_csv
from cdreasoning.data.synth import SynthSummary, synthesize

__all__ = [
    "ATTRIBUTE_NAMES",
    "CheckReport",
    "ConversationRecord",
    "DataError",
    "DepictTestRecord",
    "MixResult",
    "Problem",
    "SeverityItem",
    "SpcdPair",
    "SynthSummary",
    "Turn",
    "build_describe_records",
    "build_score_records",
    "canonical_placeholders",
    "check_dataset",
    "count_placeholders",
    "dedupe_pairs",
    "describe_severities",
    "mix_conversation_files",
    "mix_records",
    "parse_conversations",
    "read_conversations",
    "read_depict_tests",
    "read_severity_table",
    "read_spcd_csv",
    "synthesize",
    "write_json",
]
