"""A batch's two files split into chunks of whole families, and the keys duplicated across chunks.

A batch larger than the chunk size is split in one pass over each file: families in input order,
each member routed to its family's chunk wherever it sits in the members file. Keys that could be
duplicated across chunks (family ids, NIKs) are found in the same pass, so that every chunk
quarantines exactly what the whole batch would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..records import QUARANTINE_COLUMNS, read_records, streaming
from ..records.keys import BatchDuplicates, family_hash, is_nik, normalize_arrow
from ..records.streaming import TableSource
from ._linking import links_of
from ._summary import BatchSummary

CHUNK_FAMILIES = 100_000
_ROW = "__row"
_SPILL = pa.ipc.IpcWriteOptions(compression="lz4")  # chunk parts: written and read once, so fast beats small


@dataclass
class Chunk:
    """Whole families of a batch and their members, raw, with their input row numbers."""

    families: pd.DataFrame
    members: pd.DataFrame
    family_rows: np.ndarray
    member_rows: np.ndarray


def nik_keys(tbl: pa.Table, hashes: np.ndarray) -> pd.DataFrame:
    """Well-formed NIKs as integers with the hash of their family (`family_hash`), for finding duplicates."""
    nik = normalize_arrow(tbl.column("nik"))
    ok = is_nik(nik)
    return pd.DataFrame({"nik": pc.cast(nik.filter(ok), pa.int64()).to_numpy(), "family": hashes[ok]})


def duplicated_niks(keys: pd.DataFrame) -> dict:
    """NIK -> number of families, for NIKs on more than one row of ``keys`` (see `nik_keys`)."""
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
        self.sources = TableSource(families, "families"), TableSource(members, "members")
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
        hashes, missing = zip(*(family_hash(t.column(0).to_pandas()) for t in fam_src.batches(["family_id"])))
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
                h, miss = family_hash(t.column("family_id").to_pandas())
                code = index.get_indexer(h)
                spread = (start + np.arange(len(t))) // streaming.READ_ROWS % K
                self._route(writers, "members", t, start, np.where(miss | (code < 0), spread, chunk_of_family[code]))
                keys.append(nik_keys(t, h))
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


def score_chunk(model, chunk: Chunk, duplicates: BatchDuplicates | None = None, **options):
    """Score one chunk; return its scores, its quarantine with input row numbers, and its summary.

    ``links`` and ``community_reports`` in ``options``: the batch's (`stage_evidence`), tables or
    Parquet files, of which the chunk's families' rows are read."""
    for name in ("links", "community_reports"):
        if options.get(name) is not None:
            options[name] = links_of(options[name], chunk.families["family_id"])
    result = model.score_records(chunk.families, chunk.members, known_duplicates=duplicates, **options)
    q = result.quarantine.copy()
    for table, rows in (("families", chunk.family_rows), ("members", chunk.member_rows)):
        mine = (q["table"] == table).to_numpy()
        q.loc[mine, "row"] = np.asarray(rows)[q.loc[mine, "row"].to_numpy(dtype=np.int64)]
    return result.scores, q[QUARANTINE_COLUMNS], BatchSummary.of(model, result)
