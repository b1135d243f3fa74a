"""Linkage: records of other registries (BKN, BPJS, PLN, Samsat, Dukcapil...) linked to members."""

from ._link import LINK_COLUMNS, METHODS, LinkResult, RecordLinker, link_records
from ._prepare import name_key, normalize_name

__all__ = ["LINK_COLUMNS", "METHODS", "LinkResult", "RecordLinker", "link_records", "name_key", "normalize_name"]
