"""pkh-targeting: find the families PKH reaches by mistake, and those it misses."""

__version__ = "0.1.0"

from .exceptions import DataQualityWarning, SchemaError, SmallGroupWarning
from .features import PMTFeatureBuilder, build_pmt_features
from .modeling import TargetingModel, WelfareModel
from .privacy import pseudonymize
from .reading import read_records, read_table
from .rules import Rules, apply_rules, load_rules
from .schema import load_contract
from .synth import Registry, generate_registry
from .validation import ValidationResult, validate_records
from .verification import rank_for_verification

__all__ = [
    "DataQualityWarning",
    "SchemaError",
    "SmallGroupWarning",
    "PMTFeatureBuilder",
    "Registry",
    "Rules",
    "TargetingModel",
    "ValidationResult",
    "WelfareModel",
    "apply_rules",
    "build_pmt_features",
    "generate_registry",
    "load_contract",
    "load_rules",
    "pseudonymize",
    "rank_for_verification",
    "read_records",
    "read_table",
    "validate_records",
]
