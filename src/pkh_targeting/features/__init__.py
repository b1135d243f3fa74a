"""Proxy-means-test features from registry records."""

from ._assets import ASSET_ITEMS
from ._builder import GROUP_COLUMNS, PMTFeatureBuilder, build_pmt_features, family_groups, feature_docs_markdown

__all__ = [
    "ASSET_ITEMS",
    "GROUP_COLUMNS",
    "PMTFeatureBuilder",
    "build_pmt_features",
    "family_groups",
    "feature_docs_markdown",
]
