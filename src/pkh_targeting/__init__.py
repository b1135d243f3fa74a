"""pkh-targeting: find the families PKH reaches by mistake, and those it misses."""

from .exceptions import DataQualityWarning, SchemaError, SmallGroupWarning
from .reading import read_records, read_table
from .rules import Rules, apply_rules, load_rules
from .schema import load_contract
from .synth import Registry, generate_registry
from .validation import ValidationResult, validate_records

__version__ = "0.1.0"

__all__ = [
    "DataQualityWarning",
    "SchemaError",
    "SmallGroupWarning",
    "Registry",
    "Rules",
    "ValidationResult",
    "apply_rules",
    "generate_registry",
    "load_contract",
    "load_rules",
    "read_records",
    "read_table",
    "validate_records",
]
