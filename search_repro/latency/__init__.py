"""Per-device latency lookup tables for the MoGA search space.

``load_table(DEFAULT_TABLE).predict(codes)`` gives milliseconds for integer-coded architectures;
``build_table`` measures a table for your own device and ``validate_table`` checks it end to end.
"""
from .builder import build_table
from .bundled import DEFAULT_TABLE, bundled_tables
from .schema import TableFormatError
from .table import LatencyTable, load_table
from .validation import accuracy_metrics, plot_validation, validate_table

__all__ = ["LatencyTable", "load_table", "bundled_tables", "DEFAULT_TABLE", "build_table",
           "validate_table", "plot_validation", "accuracy_metrics", "kendall_tau",
           "TableFormatError"]
