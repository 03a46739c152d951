"""SPCD / M-SPCD data: readers, builders, checks and a synthetic SPCD-like set (`cdreasoning data --help`)."""

from cdreasoning.data.errors import DataError
from cdreasoning.data.spcd import SpcdPair, read_spcd_csv

__all__ = ["DataError", "SpcdPair", "read_spcd_csv"]
