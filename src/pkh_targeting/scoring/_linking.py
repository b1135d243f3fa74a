"""A batch's registry records linked once, before its chunks (or partitions) are scored."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..exceptions import SchemaError
from ..records import read_table
from ..records.evidence import read_evidence
from ..records.lineage import file_sha256
from ..records.streaming import TableSource

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


def stage_links(model, families, members, registry_records, staging, options: dict):
    """Link the batch (`link_batch`) into ``staging``; ``options["links"]`` becomes the links' file,
    which each chunk or partition reads its families' rows of. Returns the `LinkedEvidence`, or None."""
    if registry_records is None:
        return None
    linked = link_batch(model, families, members, registry_records, options["reference_date"])
    options["links"] = str(staging.add_links(linked))
    return linked


def published_options(options: dict, summary, linked) -> dict:
    """The summary's evidence lineage set, and the options the manifest records (no links' file)."""
    summary.evidence = linked.lineage_ if linked is not None else {}
    return {k: v for k, v in options.items() if k != "links"}


def links_of(links, family_ids) -> pd.DataFrame:
    """The rows of a batch's links (a table, or its ``links.parquet``) about the families ``family_ids``."""
    ids = pd.Series(family_ids, dtype="string").dropna().unique()
    if isinstance(links, pd.DataFrame):
        return links[links["family_id"].isin(ids).to_numpy()]
    return pq.read_table(links, filters=pc.field("family_id").isin(pa.array(ids.tolist(), pa.string()))).to_pandas()
