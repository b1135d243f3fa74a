"""Proxy-means-test features from registry records."""

from ._assets import ASSET_ITEMS
from ._builder import GROUP_COLUMNS, PMTFeatureBuilder, build_pmt_features, family_groups, feature_docs_markdown
from ._evidence import EvidenceFeatures, evidence_concept
from ._reports import ReportFeatures, report_concept

__all__ = [
    "ASSET_ITEMS",
    "EvidenceFeatures",
    "ReportFeatures",
    "GROUP_COLUMNS",
    "PMTFeatureBuilder",
    "build_pmt_features",
    "evidence_concept",
    "report_concept",
    "family_groups",
    "feature_docs_markdown",
]
