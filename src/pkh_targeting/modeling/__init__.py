"""Targeting models: the proxy-means baseline, the PKH eligibility model and its error scores."""

from ._reach import (
    ERROR_TYPES,
    REACH_COLUMNS,
    REASONS_SHARE,
    benefit_at_stake,
    candidates,
    largest_remainder,
    reachable,
)
from ._targeting import PSI_WARNING, ScoreResult, TargetingModel
from ._welfare import WelfareModel

__all__ = [
    "ERROR_TYPES",
    "PSI_WARNING",
    "REACH_COLUMNS",
    "REASONS_SHARE",
    "ScoreResult",
    "TargetingModel",
    "WelfareModel",
    "benefit_at_stake",
    "candidates",
    "largest_remainder",
    "reachable",
]
