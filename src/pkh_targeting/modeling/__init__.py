"""Targeting models: the proxy-means baseline, the PKH eligibility model and its error scores."""

from ._targeting import SCORE_COLUMNS, ScoreResult, TargetingModel, data_fingerprint
from ._welfare import WelfareModel

__all__ = ["SCORE_COLUMNS", "ScoreResult", "TargetingModel", "WelfareModel", "data_fingerprint"]
