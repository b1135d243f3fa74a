"""Scoring a batch from files in chunks of whole families, with bounded memory and atomic outputs.

`score_files` is what ``pkh-targeting score`` runs. A batch larger than ``chunk_size`` families is
split in one pass over each file: families in input order, each member routed to its family's chunk
wherever it sits in the members file. Keys that could be duplicated across chunks (family ids, NIKs)
are found first, so that every chunk quarantines exactly what the whole batch would, and the scores
equal those of `TargetingModel.score_records` on the whole batch, in the same order.

Outputs go to a staging folder and are moved into place only when complete::

    OUT/scores.parquet/part-00000.parquet ...   scored-batch contract, one part per chunk
    OUT/scores.parquet/_batch.json              counts, versions and SHA-256 of every output
    OUT/quarantine.csv                          one row per problem, in input row order

A run killed midway leaves the previous outputs (or none), never a partial ``scores.parquet``;
rerunning gives byte-identical files.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import json
import os
import shutil
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from joblib.externals.loky import ProcessPoolExecutor

from .exceptions import SchemaError
from .outputs import atomic_path, neutralize_formulas, write_parquet
from .reading import (
    conform,
    detect_csv_encoding,
    parquet_files,
    parquet_schema,
    read_records,
    read_table,
    standardize_columns,
)
from .validation import QUARANTINE_COLUMNS, BatchDuplicates, as_reference_date, is_nik

CHUNK_FAMILIES = 100_000
READ_ROWS = 500_000
_ROW = "__row"
_SPILL = pa.ipc.IpcWriteOptions(compression="lz4")  # chunk parts: written and read once, so fast beats small


# ------------------------------------------------------------------------------------ summary
@dataclass
class BatchSummary:
    """What a scored batch amounts to, added up over its chunks (what `tracking.log_scoring` records).

    Attributes
    ----------
    n_read, quarantined : dict
        Input rows and quarantined rows per table.
    n_scored : int
    rules : dict
        Problems per quarantine rule.
    fingerprint : dict
        `fingerprint_counts` of the valid records.
    bins : dict
        Feature -> counts in the model's training bins, for drift.
    outputs : list of Path
        Files written, and ``scores_path`` the scores folder, once the batch is published.
    """

    n_read: dict = field(default_factory=lambda: {"families": 0, "members": 0})
    quarantined: dict = field(default_factory=lambda: {"families": 0, "members": 0})
    n_scored: int = 0
    rules: dict = field(default_factory=dict)
    fingerprint: dict = field(default_factory=dict)
    bins: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    scores_path: Path | None = None

    @classmethod
    def of(cls, model, result) -> BatchSummary:
        """Summary of one `ScoreResult`."""
        from .modeling._targeting import fingerprint_counts

        res = result.validation
        rows = res.quarantine.drop_duplicates(["table", "row"])["table"].value_counts()
        X = result.features
        return cls(
            n_read=dict(res.n_read),
            quarantined={t: int(rows.get(t, 0)) for t in ("families", "members")},
            n_scored=len(result.scores),
            rules={str(k): int(v) for k, v in res.rule_counts().items()},
            fingerprint=fingerprint_counts(res.families, res.members) if len(res.families) else {},
            bins={} if X is None else {k: v.tolist() for k, v in model.bin_counts(X).items()},
        )

    def __add__(self, other: BatchSummary) -> BatchSummary:
        from .modeling._targeting import add_fingerprint_counts

        def add(a: dict, b: dict) -> dict:
            return {k: a.get(k, 0) + b.get(k, 0) for k in sorted(a.keys() | b.keys())}

        return BatchSummary(
            n_read=add(self.n_read, other.n_read),
            quarantined=add(self.quarantined, other.quarantined),
            n_scored=self.n_scored + other.n_scored,
            rules=dict(Counter(self.rules) + Counter(other.rules)),
            fingerprint=add_fingerprint_counts(self.fingerprint, other.fingerprint),
            bins={
                k: np.add(self.bins.get(k, 0), other.bins.get(k, 0)).tolist()
                for k in sorted(self.bins.keys() | other.bins.keys())
            },
        )

    def summary(self) -> pd.DataFrame:
        """Rows read, valid and quarantined per table (as `ValidationResult.summary`)."""
        t = ["families", "members"]
        read = pd.Series(self.n_read).reindex(t, fill_value=0)
        q = pd.Series(self.quarantined).reindex(t, fill_value=0)
        return pd.DataFrame({"read": read, "valid": read - q, "quarantined": q})

    def rule_counts(self) -> pd.Series:
        """Problems per rule, most frequent first (as `ValidationResult.rule_counts`)."""
        return pd.Series(self.rules, dtype="int64").sort_values(ascending=False, kind="stable")

    def drift(self, model) -> pd.DataFrame:
        """Feature drift of the batch against training (`TargetingModel.drift`)."""
        if not self.bins:
            return pd.DataFrame(columns=["feature", "psi", "shifted"])
        return model.drift(counts={k: np.asarray(v) for k, v in self.bins.items()})

    def data_fingerprint(self) -> dict:
        from .modeling._targeting import data_fingerprint

        return data_fingerprint(counts=self.fingerprint) if self.fingerprint else {}

    def to_dict(self) -> dict:
        return {
            "read": self.n_read,
            "scored": self.n_scored,
            "quarantined_rows": self.quarantined,
            "problems_by_rule": self.rules,
            "input": self.data_fingerprint(),
        }


# ------------------------------------------------------------------------------------- chunks
@dataclass
class Chunk:
    """Whole families of a batch and their members, raw, with their input row numbers."""

    families: pd.DataFrame
    members: pd.DataFrame
    family_rows: np.ndarray
    member_rows: np.ndarray


def _family_hash(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash of family ids as validation reads them (text, stripped); and the missing ones."""
    text = values.astype("string").str.strip()
    missing = (text.isna() | (text == "")).to_numpy()
    return pd.util.hash_array(text.fillna("").to_numpy(dtype=object), categorize=False), missing


class _Source:
    """One table of a batch read in batches of rows, with the contract's column names."""

    def __init__(self, path, table: str):
        self.path, self.table = Path(path), table
        suffix = self.path.suffix.lower()
        if self.path.is_dir() or suffix in (".parquet", ".pq"):
            self.kind = "parquet"
            self.files = parquet_files(self.path)
            self.schema = parquet_schema(self.files)
            raw = self.schema.names
        elif suffix in (".csv", ".txt"):
            self.kind = "csv"
            if not self.path.is_file() or self.path.stat().st_size == 0:
                read_table(self.path, table)  # names the problem
            self.encoding = detect_csv_encoding(self.path)
            raw = list(pd.read_csv(self.path, nrows=0, encoding=self.encoding).columns)
        else:
            self.kind = "other"
            return
        self.names = list(standardize_columns(pd.DataFrame(columns=raw), table, source=str(self.path)).columns)
        self.raw_names = dict(zip(self.names, raw))

    def n_rows(self) -> int | None:
        if self.kind == "parquet":
            return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        if self.kind == "csv":
            with open(self.path, "rb") as f:
                lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))
            return max(lines - 1, 0)
        return None

    def batches(self, columns: list[str] | None = None):
        """Yield pyarrow Tables of up to `READ_ROWS` rows, in file order (only ``columns`` if given)."""
        names = columns or self.names
        raw = [self.raw_names[c] for c in names]
        if self.kind == "parquet":
            schema = pa.schema([self.schema.field(c) for c in raw])
            for f in self.files:
                present = [c for c in raw if c in pq.read_schema(f).names]
                for b in pq.ParquetFile(f).iter_batches(batch_size=READ_ROWS, columns=present):
                    yield conform(pa.Table.from_batches([b]), schema).rename_columns(names)
        else:
            schema = pa.schema([(c, pa.string()) for c in names])
            for df in pd.read_csv(
                self.path, dtype=str, encoding=self.encoding, skipinitialspace=True, usecols=raw, chunksize=READ_ROWS
            ):
                df = df[raw]
                df.columns = names
                yield pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def read_records_of(path, table: str, family_ids, columns: list[str] | None = None) -> pd.DataFrame:
    """Rows of ``table`` ("families" or "members") that belong to the families in ``family_ids``
    (compared stripped), raw as `score_files` reads its chunks (only ``columns`` if given), read in
    batches: memory grows with the rows kept, not with the file."""
    source = _Source(path, table)
    if source.kind == "other":
        whole = read_table(path, table)
        batches = [pa.Table.from_pandas(whole[columns or list(whole.columns)].astype("string"), preserve_index=False)]
    else:
        batches = source.batches(columns)
    wanted = pa.array(pd.array(family_ids, dtype="string").unique(), type=pa.large_string())
    parts = []
    for t in batches:
        ids = pc.utf8_trim_whitespace(t.column("family_id").cast(pa.large_string()))
        t = t.set_column(t.schema.get_field_index("family_id"), "family_id", ids)
        parts.append(t.filter(pc.is_in(ids, value_set=wanted)))
    return pa.concat_tables(parts).to_pandas() if parts else pd.DataFrame(columns=columns or source.names)


def _nik_keys(tbl: pa.Table, family_hash: np.ndarray) -> pd.DataFrame:
    """Well-formed NIKs as integers with the hash of their family (`_family_hash`), for finding duplicates."""
    nik = pc.utf8_trim_whitespace(tbl.column("nik").cast(pa.large_string()))
    ok = is_nik(nik)
    return pd.DataFrame({"nik": pc.cast(nik.filter(ok), pa.int64()).to_numpy(), "family": family_hash[ok]})


def duplicated_niks(keys: pd.DataFrame) -> dict:
    """NIK -> number of families, for NIKs on more than one row of ``keys`` (see `_nik_keys`)."""
    nik = keys["nik"].to_numpy()
    order = np.argsort(nik, kind="stable")
    repeated = np.diff(nik[order]) == 0
    dup = np.zeros(len(nik), bool)
    dup[order[1:][repeated]] = dup[order[:-1][repeated]] = True
    n = keys[dup].groupby("nik")["family"].nunique()
    return {f"{k:016d}": int(v) for k, v in n.items()}


class ChunkedBatch:
    """A batch's two files split into chunks of about ``chunk_size`` whole families.

    Small batches, and Excel files, are read whole as one chunk. Larger ones are split through
    Arrow files under ``workdir``: families in input order (a repeated family id joins its first
    occurrence), members with their family wherever they are in the file, members of no known family
    spread evenly.
    """

    def __init__(self, families, members, chunk_size: int = CHUNK_FAMILIES, workdir=None):
        self.sources = _Source(families, "families"), _Source(members, "members")
        self.chunk_size, self.workdir = chunk_size, Path(workdir) if workdir else None
        n = self.sources[0].n_rows()
        streamable = all(s.kind != "other" for s in self.sources)
        self.n_chunks = max(-(-n // chunk_size), 1) if (streamable and n is not None) else 1
        self.duplicates = BatchDuplicates()
        self._split_done = False

    def __len__(self) -> int:
        return self.n_chunks

    def __iter__(self):
        self.split()
        for k in range(self.n_chunks):
            yield self.chunk(k)
            self.discard(k)

    def chunk(self, k: int) -> Chunk:
        """Chunk ``k``, read from its parts; call `split` first."""
        if self.n_chunks == 1:
            fam, mem = read_records(self.sources[0].path, self.sources[1].path)
            return Chunk(fam, mem, np.arange(len(fam)), np.arange(len(mem)))
        fam, mem = (self._read_part(t, k) for t in ("families", "members"))
        return Chunk(fam.drop(columns=_ROW), mem.drop(columns=_ROW), fam[_ROW].to_numpy(), mem[_ROW].to_numpy())

    def discard(self, k: int) -> None:
        """Delete chunk ``k``'s parts."""
        if self.n_chunks > 1:
            for t in ("families", "members"):
                (self.workdir / f"{t}-{k:05d}.arrow").unlink(missing_ok=True)

    def _read_part(self, table: str, k: int) -> pd.DataFrame:
        path = self.workdir / f"{table}-{k:05d}.arrow"
        if path.exists():
            with pa.ipc.open_file(path) as f:
                return f.read_all().to_pandas()
        return pd.DataFrame({c: pd.Series(dtype="string") for c in [*self.sources[table == "members"].names, _ROW]})

    def split(self) -> None:
        """Write each chunk's rows to Arrow files under ``workdir`` and find the batch's duplicate
        keys (`duplicates`); nothing to do for a batch of one chunk, or one already split."""
        if self.n_chunks == 1 or self._split_done:
            return
        if self.workdir is None:
            raise ValueError("a batch split in chunks needs a workdir for its parts.")
        fam_src, mem_src = self.sources
        C, K = self.chunk_size, self.n_chunks
        hashes, missing = zip(*(_family_hash(t.column(0).to_pandas()) for t in fam_src.batches(["family_id"])))
        hashes, missing = np.concatenate(hashes), np.concatenate(missing)
        codes, uniques = pd.factorize(hashes)
        first = np.empty(len(uniques), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        chunk_of_family = first // C
        family_chunk = np.where(missing, np.arange(len(codes)) // C, chunk_of_family[codes])
        index = pd.Index(uniques)
        self.workdir.mkdir(parents=True, exist_ok=True)
        writers: dict = {}
        try:
            start = 0
            for t in fam_src.batches():
                self._route(writers, "families", t, start, family_chunk[start : start + len(t)])
                start += len(t)
            start, keys = 0, []
            for t in mem_src.batches():
                h, miss = _family_hash(t.column("family_id").to_pandas())
                code = index.get_indexer(h)
                spread = (start + np.arange(len(t))) // READ_ROWS % K
                self._route(writers, "members", t, start, np.where(miss | (code < 0), spread, chunk_of_family[code]))
                keys.append(_nik_keys(t, h))
                start += len(t)
        finally:
            for w in writers.values():
                w.close()
        self.duplicates = BatchDuplicates(nik_families=duplicated_niks(pd.concat(keys, ignore_index=True)))
        self._split_done = True

    def _route(self, writers: dict, table: str, t: pa.Table, start: int, chunk: np.ndarray) -> None:
        t = t.append_column(_ROW, pa.array(np.arange(start, start + len(t), dtype=np.int64)))
        order = np.argsort(chunk, kind="stable")
        bounds = np.searchsorted(chunk[order], np.arange(self.n_chunks + 1))
        for k in np.flatnonzero(np.diff(bounds)):
            part = t.take(order[bounds[k] : bounds[k + 1]])
            if (table, k) not in writers:
                writers[table, k] = pa.ipc.new_file(self.workdir / f"{table}-{k:05d}.arrow", t.schema, options=_SPILL)
            writers[table, k].write_table(part)


# -------------------------------------------------------------------------------------- scoring
def score_chunk(model, chunk: Chunk, duplicates: BatchDuplicates | None = None, **options):
    """Score one chunk; return its scores, its quarantine with input row numbers, and its summary."""
    result = model.score_records(chunk.families, chunk.members, known_duplicates=duplicates, **options)
    q = result.quarantine.copy()
    for table, rows in (("families", chunk.family_rows), ("members", chunk.member_rows)):
        mine = (q["table"] == table).to_numpy()
        q.loc[mine, "row"] = np.asarray(rows)[q.loc[mine, "row"].to_numpy(dtype=np.int64)]
    return result.scores, q[QUARANTINE_COLUMNS], BatchSummary.of(model, result)


class _Staging:
    """A hidden folder next to the outputs; `publish` moves its contents into place."""

    def __init__(self, out: Path, name: str = "scores"):
        self.out = Path(out)
        self.path = self.out / f".staging-{name}"
        if self.path.exists():  # left by a run that was interrupted
            shutil.rmtree(self.path)
        (self.path / "quarantine").mkdir(parents=True)
        (self.path / "scores.parquet").mkdir()
        self.quarantine = self.path / "quarantine.csv"

    def add_quarantine(self, q: pd.DataFrame) -> None:
        """Keep one chunk's quarantine; `publish` merges them in input row order."""
        if len(q):
            q = q.sort_values(["table", "row"], kind="stable")
            path = self.path / "quarantine" / f"part-{len(list((self.path / 'quarantine').iterdir())):05d}.csv"
            neutralize_formulas(q).to_csv(path, header=False, index=False, encoding="utf-8")

    def _merge_quarantine(self) -> None:
        """quarantine.csv: the chunks' quarantines merged by table and input row, as for a batch in one piece."""
        parts = sorted((self.path / "quarantine").iterdir())
        while len(parts) > _MERGE_FILES:  # merge in rounds, keeping few files open
            parts = [_merge_csv(parts[i : i + _MERGE_FILES]) for i in range(0, len(parts), _MERGE_FILES)]
        with open(self.quarantine, "w", newline="", encoding="utf-8-sig") as out:
            csv.writer(out, lineterminator="\n").writerow(QUARANTINE_COLUMNS)
        _merge_csv(parts, self.quarantine)
        shutil.rmtree(self.path / "quarantine")

    def publish(self, summary: BatchSummary, model, options: dict) -> BatchSummary:
        from .tracking import file_sha256

        self._merge_quarantine()
        scores_dir = self.path / "scores.parquet"
        parts = sorted(p for p in scores_dir.glob("*.parquet"))
        manifest = {
            "format": "pkh-targeting-batch/1",
            "model_version": model.model_version,
            "rules_version": model.rules_.version,
            "reference_date": options["reference_date"].isoformat(),
            "reasons": options.get("reasons", "auto"),
            **summary.to_dict(),
            "drift": summary.drift(model)[["feature", "psi"]].round(4).to_dict("records"),
            "sha256": {
                **{f"scores.parquet/{p.name}": file_sha256(p) for p in parts},
                "quarantine.csv": file_sha256(self.quarantine),
            },
        }
        with atomic_path(scores_dir / "_batch.json") as tmp:
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
        self.out.mkdir(parents=True, exist_ok=True)
        old = self.path / "previous"
        old.mkdir()
        for name in ("quarantine.csv", "scores.parquet"):
            if (self.out / name).exists():
                os.replace(self.out / name, old / name)
            os.replace(self.path / name, self.out / name)
        shutil.rmtree(self.path)
        summary.scores_path = self.out / "scores.parquet"
        summary.outputs = [summary.scores_path / p.name for p in parts] + [self.out / "quarantine.csv"]
        return summary


_MERGE_FILES = 200


def _merge_csv(parts: list[Path], out: Path | None = None) -> Path:
    """Merge CSV files (no header) sorted by table and row into ``out`` (appended; by default a new part)."""
    out = out or parts[0].with_name(f"merged-{parts[0].name}")
    with contextlib.ExitStack() as stack:
        readers = [csv.reader(stack.enter_context(open(p, newline="", encoding="utf-8"))) for p in parts]
        with open(out, "a", newline="", encoding="utf-8") as f:
            rows = heapq.merge(*readers, key=lambda r: (r[0], int(r[1])))
            csv.writer(f, lineterminator="\n").writerows(rows)
    return out


def score_files(
    model,
    families,
    members,
    out,
    *,
    chunk_size: int = CHUNK_FAMILIES,
    n_jobs: int | None = None,
    progress=None,
    **options,
) -> BatchSummary:
    """Score a batch from its files into ``out`` (see the module docstring), chunk by chunk.

    Parameters
    ----------
    model : TargetingModel
    families, members : path
        ``.parquet`` files or folders of Parquet files, ``.csv`` or ``.xlsx``.
    out : path
        Output folder.
    chunk_size : int
        Families per chunk: memory grows with it, not with the batch.
    n_jobs : int, optional
        Chunks scored at once, each in its own process (``-1``: one per core; ``None``: 1). Memory
        grows with ``n_jobs * chunk_size``. The outputs do not depend on it.
    progress : callable, optional
        Called as ``progress(chunks_done, chunks_total)``.
    **options
        For `TargetingModel.score_records`: ``reference_date``, ``language``, ``reasons``.

    Returns
    -------
    BatchSummary
    """
    options = batch_options(options)
    staging = _Staging(out)
    batch = ChunkedBatch(families, members, chunk_size, workdir=staging.path / "chunks")
    summary = BatchSummary()
    if progress:
        progress(0, len(batch))
    for k, (scores, quarantine, part) in enumerate(_scored_chunks(model, batch, n_jobs, options)):
        write_parquet(scores, staging.path / "scores.parquet" / f"part-{k:05d}.parquet", index=False)
        staging.add_quarantine(quarantine)
        summary += part
        if progress:
            progress(k + 1, len(batch))
    shutil.rmtree(staging.path / "chunks", ignore_errors=True)
    return staging.publish(summary, model, options)


def batch_options(options: dict) -> dict:
    """``options`` with the reference date fixed for the whole batch (today, by default), so that a
    run past midnight scores every chunk on the same date, and the manifest records it."""
    return {**options, "reference_date": as_reference_date(options.get("reference_date"))}


_WORKER: dict = {}


def _start_worker(model) -> None:
    """Worker initializer: one thread (LightGBM, BLAS), the model kept, and exit as soon as the scoring
    process is gone rather than work on for nobody."""
    from joblib.externals.loky import process_executor
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    # loky restarts a worker whose memory grew by 300 MB since its first task, as it does with every chunk
    # of families (freed after each): the restart would cost more than the chunk
    process_executor._USE_PSUTIL = False
    _WORKER["model"] = model
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _score_part(batch: ChunkedBatch, k: int, options: dict):
    """In a worker: `score_chunk` of chunk ``k``. Workers only read, so a stray one cannot spoil a rerun."""
    return score_chunk(_WORKER["model"], batch.chunk(k), batch.duplicates, **options)


def _scored_chunks(model, batch: ChunkedBatch, n_jobs, options: dict):
    """Yield `score_chunk` of every chunk in chunk order, scoring up to ``n_jobs`` chunks at once in
    worker processes, which end with the scoring."""
    from joblib import effective_n_jobs

    n_jobs = min(effective_n_jobs(n_jobs), len(batch))
    if n_jobs == 1:
        yield from (score_chunk(model, chunk, batch.duplicates, **options) for chunk in batch)
        return
    # loky's workers start without running the caller's script again (safe without a __main__ guard)
    pool = ProcessPoolExecutor(n_jobs, initializer=_start_worker, initargs=(model,))
    finished = False
    try:
        pool.submit(int)  # the workers start (imports, model) while this process splits the batch
        batch.split()
        pending = deque()  # (chunk, future); up to two per worker, so that none waits for work
        for k in range(len(batch)):
            pending.append((k, pool.submit(_score_part, batch, k, options)))
            while pending and (len(pending) == 2 * n_jobs or k == len(batch) - 1):
                done, future = pending.popleft()
                yield future.result()
                batch.discard(done)
        finished = True
    finally:
        pool.shutdown(wait=True, kill_workers=not finished)


def read_scores(path, columns=None) -> pd.DataFrame:
    """Read scores written by `score_files` (a folder of parts) or a single Parquet file.

    Raises `SchemaError` for a folder without its ``_batch.json``: an incomplete output.
    """
    path = Path(path)
    if path.is_dir() and not (path / "_batch.json").is_file():
        raise SchemaError(f"{path}: no _batch.json, so the scoring that wrote it did not finish; score again.")
    if not path.exists():
        raise SchemaError(f"{path}: no such scores file or folder.")
    return pd.read_parquet(path, columns=columns)
