"""pkh-targeting: find the families PKH reaches by mistake, and those it misses.

The house, one room per concept, data flowing one way::

    records -> (linkage, rules) -> features -> modeling -> scoring -> verification -> cases
                                 (reporting, tracking read what these produce; jobs and cli call them)
"""

from ._version import __version__
from .exceptions import DataQualityWarning, SchemaError, SmallGroupWarning
from .explain import Explainer
from .features import PMTFeatureBuilder, build_pmt_features
from .linkage import RecordLinker, link_records
from .metrics import group_errors, targeting_errors
from .modeling import TargetingModel, WelfareModel
from .privacy import pseudonymize
from .records import ValidationResult, load_contract, read_records, read_table, validate_records
from .records.evidence import read_evidence, validate_evidence
from .reporting import write_report
from .rules import Rules, apply_rules, load_rules
from .scoring import read_scores, score_files
from .synth import Registry, generate_registry
from .verification import (
    explain_lists,
    make_lists,
    meeting_agenda,
    public_list,
    rank_for_verification,
    rank_reports,
    read_feedback,
    summarize_lists,
    write_field_form,
    write_field_lists,
)

__all__ = [
    "__version__",
    # errors and warnings
    "DataQualityWarning",
    "SchemaError",
    "SmallGroupWarning",
    # records
    "ValidationResult",
    "load_contract",
    "read_records",
    "read_table",
    "validate_records",
    "read_evidence",
    "validate_evidence",
    "link_records",
    "RecordLinker",
    "pseudonymize",
    "Registry",
    "generate_registry",
    # rules and features
    "Rules",
    "apply_rules",
    "load_rules",
    "PMTFeatureBuilder",
    "build_pmt_features",
    # models, explanations and metrics
    "TargetingModel",
    "WelfareModel",
    "Explainer",
    "targeting_errors",
    "group_errors",
    # scoring, verification and reporting
    "score_files",
    "read_scores",
    "rank_for_verification",
    "rank_reports",
    "summarize_lists",
    "explain_lists",
    "make_lists",
    "meeting_agenda",
    "write_field_lists",
    "write_field_form",
    "read_feedback",
    "public_list",
    "write_report",
]
