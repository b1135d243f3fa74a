"""Targeting models: the proxy-means baseline, the PKH eligibility model and its error scores."""

from ._targeting import PSI_WARNING, ScoreResult, TargetingModel
from ._welfare import WelfareModel

__all__ = ["PSI_WARNING", "ScoreResult", "TargetingModel", "WelfareModel"]
