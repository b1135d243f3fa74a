"""Proxy-means-test features from registry records."""

from ._builder import GROUP_COLUMNS, PMTFeatureBuilder, build_pmt_features, family_groups, feature_docs_markdown

__all__ = ["GROUP_COLUMNS", "PMTFeatureBuilder", "build_pmt_features", "family_groups", "feature_docs_markdown"]
