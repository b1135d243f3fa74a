"""Records: the data contracts, reading exports, validation with its quarantine, keys and lineage."""

from .contract import ColumnSpec, TableSpec, contract_version, load_contract, scores_contract
from .keys import BatchDuplicates
from .lineage import data_fingerprint, file_sha256
from .reading import read_records, read_table, standardize_columns
from .streaming import read_records_of, records_of
from .validation import QUARANTINE_COLUMNS, ValidationResult, as_reference_date, validate_records

__all__ = [
    "QUARANTINE_COLUMNS",
    "BatchDuplicates",
    "ColumnSpec",
    "TableSpec",
    "ValidationResult",
    "as_reference_date",
    "contract_version",
    "data_fingerprint",
    "file_sha256",
    "load_contract",
    "read_records",
    "read_records_of",
    "read_table",
    "records_of",
    "scores_contract",
    "standardize_columns",
    "validate_records",
]
