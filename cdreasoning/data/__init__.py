"""SPCD / M-SPCD data: readers, builders, checks and a synthetic SPCD-like set (`cdreasoning data --help`).

Readers return typed, validated records (frozen dataclasses) and raise `DataError` naming the file, the record
(index and id / line) and the problem: `read_spcd_csv` → `SpcdPair`, `read_conversations` →
`ConversationRecord` (score and depict training conversations), `read_depict_tests` → `DepictTestRecord`,
`read_severity_table` → `SeverityItem`, `read_pairs` → `PairSpec`. Builders turn them into M-SPCD records;
`check_dataset` inspects a file; `synthesize` writes a complete SPCD-like set from photographs bundled with
installed packages. Shared input/output of the layers above lives here too: `load_image` / `read_rgb` /
`load_pair` (the one image reader, `ImageError`), `ResultLog` (the one resumable per-pair result store),
`is_pixel_aligned` / `spcd_alignment` (SPCD naming rules) and `parse_severities` (severities out of free text).
Nothing here imports torch or transformers.
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
from cdreasoning.data.depict_task import SeverityItem, build_describe_records, read_severity_table
from cdreasoning.data.depict_tests import DepictTestRecord, read_depict_tests
from cdreasoning.data.descriptions import ATTRIBUTE_NAMES, describe_severities
from cdreasoning.data.images import load_image, load_pair, read_rgb
from cdreasoning.data.jsonio import write_json
from cdreasoning.data.mix import MixResult, mix_conversation_files, mix_records
from cdreasoning.data.pair_lists import PairSpec, read_pairs
from cdreasoning.data.result_store import ResultLog
from cdreasoning.data.score_task import build_score_records, dedupe_pairs
from cdreasoning.data.severity_parser import parse_severities
from cdreasoning.data.spcd import SpcdPair, read_spcd_csv
from cdreasoning.data.spcd_names import is_pixel_aligned, spcd_alignment
from cdreasoning.data.synth import SynthSummary, synthesize
from cdreasoning.errors import DataError, ImageError

__all__ = [
    "ATTRIBUTE_NAMES",
    "CheckReport",
    "ConversationRecord",
    "DataError",
    "DepictTestRecord",
    "ImageError",
    "MixResult",
    "PairSpec",
    "Problem",
    "ResultLog",
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
    "is_pixel_aligned",
    "load_image",
    "load_pair",
    "mix_conversation_files",
    "mix_records",
    "parse_conversations",
    "parse_severities",
    "read_conversations",
    "read_depict_tests",
    "read_pairs",
    "read_rgb",
    "read_severity_table",
    "read_spcd_csv",
    "spcd_alignment",
    "synthesize",
    "write_json",
]
