"""Scoring a registry partitioned by region on a Dask cluster (``pip install 'pkh-targeting[dask]'``).

The families and members datasets are folders of Parquet files partitioned the same way, e.g.
``families/province_code=32/part-0.parquet`` and ``members/province_code=32/part-0.parquet``
(`write_partitioned` writes them so), so that a family and its members are always in the same
partition. Each partition is scored by the same code as a chunk of `score_files`; keys that
could be duplicated across partitions (family ids, NIKs) are counted on the cluster first. The output
folder has the same layout as `score_files` and the same rows; only the order of the rows
differs (partition by partition).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..exceptions import SchemaError
from ..modeling import REASONS_SHARE
from ..outputs import write_parquet
from ..records import QUARANTINE_COLUMNS, scores_contract, standardize_columns
from ..records.keys import BatchDuplicates, family_hash, normalize_text
from ..records.reading import conform, parquet_files, parquet_schema
from ._chunking import Chunk, duplicated_niks, nik_keys, score_chunk
from ._linking import published_options, stage_evidence
from ._local import add_reasons, batch_options, explain_families, first_pass, reachable_ids
from ._publishing import Staging
from ._summary import BatchSummary


def _require_dask():
    try:
        import dask
        import dask.dataframe as dd
        import distributed
    except ImportError as exc:
        raise ImportError("the Dask engine needs the dask extra: pip install 'pkh-targeting[dask]'") from exc
    return dask, dd, distributed


def write_partitioned(families: pd.DataFrame, members: pd.DataFrame, folder, by: str = "province_code") -> Path:
    """Write a registry as two Parquet datasets partitioned by a region column of the families
    (members follow their family): ``folder/families/{by}=V/part-0.parquet`` and
    ``folder/members/{by}=V/part-0.parquet``. Members of no known family go to ``{by}=unknown``."""
    if by not in families:
        raise SchemaError(f"cannot partition by {by!r}: the families table has no such column.")
    folder = Path(folder)
    region = families.drop_duplicates("family_id").set_index("family_id")[by].astype("string")
    member_region = region.reindex(members["family_id"]).fillna("unknown").to_numpy()
    for name, df, key in (
        ("families", families, families[by].astype("string").fillna("unknown").to_numpy()),
        ("members", members, member_region),
    ):
        for value in sorted(set(key)):
            write_parquet(df[key == value], folder / name / f"{by}={value}" / "part-0.parquet", index=False)
    return folder


def _partitions(families, members) -> list[tuple[list, list]]:
    """Pairs (families files, members files) by partition folder, with input row offsets."""

    def by_folder(root) -> dict:
        root = Path(root)
        files = parquet_files(root)
        starts = np.cumsum([0] + [pq.ParquetFile(f).metadata.num_rows for f in files])
        out: dict = {}
        for f, start in zip(files, starts):
            out.setdefault(f.parent.relative_to(root) if root.is_dir() else Path("."), []).append((f, int(start)))
        return out

    fam, mem = by_folder(families), by_folder(members)
    return [(fam.get(k, []), mem.get(k, [])) for k in sorted(fam.keys() | mem.keys())]


def _read(files: list, table: str, schema: pa.Schema, columns=None) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a partition's files (with their first input row numbers), contract names; or ``columns``."""
    names = dict(zip(standardize_columns(pd.DataFrame(columns=schema.names), table).columns, schema.names))
    if columns:
        schema = pa.schema([schema.field(names[c]) for c in columns])
    tables = [conform(pq.read_table(f, columns=schema.names), schema) for f, _ in files] or [schema.empty_table()]
    df = pa.concat_tables(tables).to_pandas()
    df.columns = columns or list(names)
    rows = np.concatenate([np.arange(s, s + pq.ParquetFile(f).metadata.num_rows) for f, s in files] or [[]])
    return df, rows.astype(np.int64)


def _chunk(fam_files, mem_files, schemas) -> Chunk:
    fam, fam_rows = _read(fam_files, "families", schemas[0])
    mem, mem_rows = _read(mem_files, "members", schemas[1])
    return Chunk(fam, mem, fam_rows, mem_rows)


def _score_partition(model, fam_files, mem_files, schemas, duplicates, options):
    return score_chunk(model, _chunk(fam_files, mem_files, schemas), duplicates, **options)


def _explain_partition(model, fam_files, mem_files, schemas, duplicates, options, ids):
    return explain_families(model, _chunk(fam_files, mem_files, schemas), ids, duplicates, options)


def _duplicates(dask, dd, families, members, schemas) -> BatchDuplicates:
    """Family ids and NIKs that occur more than once anywhere in the datasets, counted on the cluster."""

    def ids(files):
        df, _ = _read(files, "families", schemas[0], ["family_id"])
        return pd.DataFrame({"family_id": normalize_text(df["family_id"]).dropna().to_numpy()})

    def niks(files):
        df, _ = _read(files, "members", schemas[1], ["nik", "family_id"])
        table = pa.Table.from_pandas(df[["nik"]].astype("string"), preserve_index=False)
        return nik_keys(table, family_hash(df["family_id"])[0])

    fam_parts = [[(f, 0)] for f in parquet_files(families)]
    mem_parts = [[(f, 0)] for f in parquet_files(members)]
    fid = dd.from_map(ids, fam_parts, meta={"family_id": "string"})
    counts = fid["family_id"].value_counts()
    nik = dd.from_map(niks, mem_parts, meta={"nik": "int64", "family": "uint64"})
    nik_counts = nik["nik"].value_counts()
    dup_ids, dup_nik = (c[c > 1] for c in (counts, nik_counts))
    dup_ids, dup_nik = dask.compute(dup_ids, dup_nik)
    pairs = nik[nik["nik"].isin(dup_nik.index.to_numpy())].compute() if len(dup_nik) else nik._meta
    return BatchDuplicates(family_ids=frozenset(dup_ids.index), nik_families=duplicated_niks(pairs))


def score_dataset(model, families, members, out, *, scheduler: str | None = None, n_workers: int = 2, **options):
    """Score partitioned Parquet datasets on Dask; write ``out`` as `score_files` does.

    Parameters
    ----------
    model : TargetingModel
    families, members : path
        Folders of Parquet files partitioned alike (see `write_partitioned`).
    out : path
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); by default a `LocalCluster` of
        ``n_workers`` single-threaded worker processes on this machine.
    **options
        For `TargetingModel.score_records`: ``reference_date``, ``language``, ``reasons``; and
        ``registry_records``, ``community_reports``, linked and checked once for the whole batch
        before the partitions are scored (their files in ``out``, on storage the workers share).

    Returns
    -------
    BatchSummary
    """
    dask, dd, distributed = _require_dask()
    options = batch_options(options)
    schemas = parquet_schema(parquet_files(families)), parquet_schema(parquet_files(members))
    meta = pd.DataFrame({c: pd.Series(dtype=t) for c, t in scores_contract().dtypes.items()})
    staging = Staging(out)
    lineage = stage_evidence(model, families, members, staging, options)
    if scheduler:
        client_cm = distributed.Client(scheduler)
    else:
        cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, dashboard_address=None)
        client_cm = contextlib.ExitStack()
        client_cm.enter_context(cluster)
        client_cm.enter_context(distributed.Client(cluster))
    with client_cm:
        duplicates = _duplicates(dask, dd, families, members, schemas)
        task = dask.delayed(_score_partition, nout=3, pure=True)
        remote_model = dask.delayed(model, pure=True)
        partitions = _partitions(families, members)
        first, later = first_pass(options, len(partitions))
        parts = [task(remote_model, f, m, schemas, duplicates, first) for f, m in partitions]
        scores = dd.from_delayed([p[0] for p in parts], meta=meta, verify_meta=False)
        write = scores.to_parquet(
            staging.path / "scores.parquet",
            write_index=False,
            compute=False,
            name_function=lambda i: f"part-{i:05d}.parquet",
        )
        quarantine = dd.from_delayed([p[1] for p in parts], meta=_quarantine_meta(), verify_meta=False)
        as_frame = dask.delayed(lambda s: pd.DataFrame({"summary": [json.dumps(asdict(s))]}), pure=True)
        summaries = dd.from_delayed([as_frame(p[2]) for p in parts], meta={"summary": "string"}, verify_meta=False)
        _, quarantine, summaries = dask.compute(write, quarantine, summaries)
        if later:
            folder = staging.path / "scores.parquet"
            ids = reachable_ids(folder, len(partitions), options.get("reasons_share", REASONS_SHARE))
            explain = dask.delayed(_explain_partition, pure=True)
            reasons = dask.compute(
                *[explain(remote_model, f, m, schemas, duplicates, options, i) for (f, m), i in zip(partitions, ids)]
            )
            for k, r in enumerate(reasons):
                add_reasons(folder / f"part-{k:05d}.parquet", r)
    staging.add_quarantine(quarantine)
    total = sum((BatchSummary(**json.loads(s)) for s in summaries["summary"]), BatchSummary())
    return staging.publish(total, model, published_options(options, total, lineage))


def _quarantine_meta() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in QUARANTINE_COLUMNS})
