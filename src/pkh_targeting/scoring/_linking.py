"""A batch's registry records linked once, before its chunks (or partitions) are scored."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..exceptions import SchemaError
from ..records import read_table
from ..records.evidence import read_evidence, validate_evidence
from ..records.lineage import file_sha256
from ..records.streaming import TableSource
from ._publishing import LINKS, REPORTS

_COLUMNS = {
    "families": ["family_id", "regency_code"],
    "members": ["family_id", "member_no", "nik", "name", "sex", "age"],
}


def _identity_columns(records, table: str) -> pd.DataFrame:
    """The columns linkage reads of a table given as a DataFrame or a file, read in batches of rows."""
    if isinstance(records, pd.DataFrame):
        return records[[c for c in _COLUMNS[table] if c in records]]
    source = TableSource(records, table)
    if source.kind == "other":
        return _identity_columns(read_table(records, table), table)
    columns = [c for c in _COLUMNS[table] if c in source.names]
    return pd.concat([t.to_pandas() for t in source.batches(columns)], ignore_index=True)


def link_batch(model, families, members, registry_records, reference_date):
    """Link a whole batch's registry records (a file or a table) with the model's trained linker.

    Returns the `LinkedEvidence`, with ``lineage`` ready for the batch manifest and MLflow.
    """
    if model.registry_ is None:
        raise SchemaError(
            "registry records were given but the model was trained without them: train with "
            "--registry-records, or score without."
        )
    fam = _identity_columns(families, "families")
    mem = _identity_columns(members, "members")
    mem = mem.assign(**{c: pd.to_numeric(mem[c], errors="coerce") for c in ("member_no", "sex", "age")})
    mem = mem.dropna(subset=["family_id", "member_no"])
    records = (
        registry_records
        if isinstance(registry_records, pd.DataFrame)
        else read_evidence(registry_records, "registry_records")
    )
    linked = model.registry_.link(fam.drop_duplicates("family_id"), mem, records, reference_date)
    lineage = linked.lineage()
    if not isinstance(registry_records, pd.DataFrame):
        lineage["sha256"] = file_sha256(Path(registry_records)) if Path(registry_records).is_file() else None
    linked.lineage_ = lineage
    return linked


def check_reports(model, families, community_reports, reference_date):
    """A whole batch's community reports validated once against all its families (so that a report
    about a family of another chunk is not "unknown"); with their lineage."""
    if model.reports_ is None:
        raise SchemaError(
            "community reports were given but the model was trained without them: train with "
            "--community-reports, or score without."
        )
    fam = _identity_columns(families, "families")
    given = community_reports
    if not isinstance(given, pd.DataFrame):
        given = read_evidence(community_reports, "community_reports")
    checked = validate_evidence(given, "community_reports", families=fam, reference_date=reference_date)
    lineage = {"reports_read": checked.n_read, "reports_quarantined": int(checked.quarantine["row"].nunique())}
    lineage["by_kind"] = {str(k): int(v) for k, v in checked.valid["kind"].value_counts().sort_index().items()}
    if not isinstance(community_reports, pd.DataFrame) and Path(community_reports).is_file():
        lineage["sha256"] = file_sha256(Path(community_reports))
    return checked, lineage


def stage_evidence(model, families, members, staging, options: dict) -> dict:
    """Link the batch's registry records (`link_batch`) and check its community reports
    (`check_reports`) once, into ``staging``; ``options["links"]`` and ``options["community_reports"]``
    become files each chunk or partition reads its families' rows of. Returns the evidence lineage
    (for the manifest and MLflow)."""
    registry_records, reports = options.pop("registry_records", None), options.pop("community_reports", None)
    lineage, quarantine = {}, []
    if registry_records is not None:
        linked = link_batch(model, families, members, registry_records, options["reference_date"])
        options["links"] = str(staging.add_table(linked.links, LINKS))
        lineage["registry_records"], quarantine = linked.lineage_, [linked.quarantine]
    if reports is not None:
        checked, lineage["community_reports"] = check_reports(model, families, reports, options["reference_date"])
        options["community_reports"] = str(staging.add_table(checked.valid, REPORTS))
        quarantine.append(checked.quarantine)
    if quarantine:
        staging.add_evidence_quarantine(pd.concat(quarantine, ignore_index=True))
    return lineage


def published_options(options: dict, summary, lineage: dict) -> dict:
    """The summary's evidence lineage set, and the options the manifest records (no staged files)."""
    summary.evidence = lineage
    return {k: v for k, v in options.items() if k not in ("links", "community_reports")}


def links_of(links, family_ids) -> pd.DataFrame:
    """The rows of a batch's links or reports (a table, or its Parquet file) about the families ``family_ids``."""
    ids = pd.Series(family_ids, dtype="string").dropna().unique()
    if isinstance(links, pd.DataFrame):
        return links[links["family_id"].isin(ids).to_numpy()]
    return pq.read_table(links, filters=pc.field("family_id").isin(pa.array(ids.tolist(), pa.string()))).to_pandas()
