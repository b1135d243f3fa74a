"""Scoring a batch from files on this machine, chunk by chunk, with bounded memory and atomic outputs.

`score_files` is what ``pkh-targeting score`` runs. The batch is split into chunks of whole families
(`ChunkedBatch`), scored in worker processes, and published with its manifest (`Staging`): the
scores equal those of `TargetingModel.score_records` on the whole batch, in the same order, whatever
the chunk size or the number of workers.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from joblib.externals.loky import ProcessPoolExecutor, process_executor
from threadpoolctl import threadpool_limits

from ..modeling import REACH_COLUMNS, REASONS_SHARE, reachable
from ..outputs import write_parquet
from ..records import as_reference_date
from ..records.streaming import records_of
from ._chunking import CHUNK_FAMILIES, Chunk, ChunkedBatch, score_chunk
from ._linking import published_options, stage_evidence
from ._publishing import Staging
from ._summary import BatchSummary


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
        For `TargetingModel.score_records`: ``reference_date``, ``language``, ``reasons``; and
        ``registry_records``, ``community_reports`` (paths or tables, for a model trained with them),
        linked and checked once for the whole batch (``links.parquet``, ``community_reports.parquet``
        and ``evidence_quarantine.csv`` in ``out``).

    Returns
    -------
    BatchSummary
    """
    options = batch_options(options)
    staging = Staging(out)
    lineage = stage_evidence(model, families, members, staging, options)
    batch = ChunkedBatch(families, members, chunk_size, workdir=staging.path / "chunks")
    first, later = first_pass(options, len(batch))
    summary, parts, steps = BatchSummary(), staging.path / "scores.parquet", len(batch) * (1 + later)
    if progress:
        progress(0, steps)
    with _Workers(model, n_jobs, len(batch)) as workers:
        for k, (scores, quarantine, part) in enumerate(workers.run(_score_part, batch, first, keep=later)):
            write_parquet(scores, parts / f"part-{k:05d}.parquet", index=False)
            staging.add_quarantine(quarantine)
            summary += part
            if progress:
                progress(k + 1, steps)
        if later:
            ids = reachable_ids(parts, len(batch), options.get("reasons_share", REASONS_SHARE))
            for k, reasons in enumerate(workers.run(_explain_part, batch, options, per_chunk=ids)):
                add_reasons(parts / f"part-{k:05d}.parquet", reasons)
                if progress:
                    progress(len(batch) + k + 1, steps)
    shutil.rmtree(staging.path / "chunks", ignore_errors=True)
    return staging.publish(summary, model, published_options(options, summary, lineage))


def first_pass(options: dict, n_chunks: int) -> tuple[dict, bool]:
    """The options of the first pass over a batch's chunks, and whether a second pass explains the
    families a list can reach: with ``reasons="auto"`` over several chunks, only the whole batch's
    scores say which they are."""
    later = options.get("reasons", "auto") == "auto" and n_chunks > 1
    return ({**options, "reasons": "none"} if later else options), later


def reachable_ids(parts: Path, n_parts: int, share: float) -> list:
    """Per part of a scored batch (``part-00000.parquet``...), the family ids that `reachable` picks
    in the whole batch."""
    columns = list(REACH_COLUMNS)
    tables = [pd.read_parquet(parts / f"part-{k:05d}.parquet", columns=columns) for k in range(n_parts)]
    reach = reachable(pd.concat(tables, ignore_index=True), share)
    bounds = np.cumsum([0] + [len(t) for t in tables])
    return [t["family_id"][reach[a:b]].tolist() for t, a, b in zip(tables, bounds[:-1], bounds[1:])]


def explain_families(model, chunk: Chunk, ids: list, duplicates, options: dict) -> pd.DataFrame:
    """``family_id``, ``error_score`` and ``reasons`` of the families ``ids`` of a chunk, scored again
    with reasons from their own records (and the batch's duplicate keys and evidence)."""
    if not ids:
        return pd.DataFrame({"family_id": pd.Series(dtype="string"), "error_score": [], "reasons": []})
    fam, mem = (records_of(t, name, ids) for t, name in ((chunk.families, "families"), (chunk.members, "members")))
    part = Chunk(fam, mem, np.arange(len(fam)), np.arange(len(mem)))
    scores, _, _ = score_chunk(model, part, duplicates, **{**options, "reasons": "all"})
    return scores[["family_id", "error_score", "reasons"]]


def add_reasons(path: Path, reasons: pd.DataFrame) -> None:
    """Write the ``reasons`` of `explain_families` into the scored part at ``path``.

    Raises
    ------
    RuntimeError
        A family scored differently the second time (it must not: the same records, model and date).
    """
    scores = pd.read_parquet(path)
    at = pd.Index(scores["family_id"]).get_indexer(reasons["family_id"])
    moved = (at < 0) | (np.abs(scores["error_score"].to_numpy()[np.maximum(at, 0)] - reasons["error_score"]) > 1e-9)
    if moved.any():
        first = reasons["family_id"].iloc[int(np.argmax(moved))]
        raise RuntimeError(f"{int(moved.sum())} families scored differently when explained, e.g. {first!r}.")
    scores.loc[at, "reasons"] = reasons["reasons"].to_numpy()
    write_parquet(scores, path, index=False)


def batch_options(options: dict) -> dict:
    """``options`` with the reference date fixed for the whole batch (today, by default), so that a
    run past midnight scores every chunk on the same date, and the manifest records it."""
    return {**options, "reference_date": as_reference_date(options.get("reference_date"))}


_WORKER: dict = {}


def _start_worker(model_file: str, parent: int) -> None:
    """Worker initializer: one thread (LightGBM, BLAS), the model kept (read from its pickle), and exit
    as soon as the scoring process ``parent`` is gone rather than work on for nobody (also when it was
    gone before this worker started: its parent is then another process)."""
    threadpool_limits(1)
    # loky restarts a worker whose memory grew by 300 MB since its first task, as it does with every chunk
    # of families (freed after each): the restart would cost more than the chunk
    process_executor._USE_PSUTIL = False
    _WORKER["model"] = pickle.loads(Path(model_file).read_bytes())
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _score_part(model, batch: ChunkedBatch, k: int, options: dict, _ids=None):
    """`score_chunk` of chunk ``k``. Workers only read, so a stray one cannot spoil a rerun."""
    return score_chunk(_model(model), batch.chunk(k), batch.duplicates, **options)


def _explain_part(model, batch: ChunkedBatch, k: int, options: dict, ids: list):
    """`explain_families` of chunk ``k``."""
    return explain_families(_model(model), batch.chunk(k), ids, batch.duplicates, options)


def _model(model):
    """The model given, or in a worker (given None) the worker's own."""
    return _WORKER["model"] if model is None else model


class _Workers:
    """Up to ``n_jobs`` worker processes that keep the model for every pass over a batch's chunks
    (none for one job), and end with the scoring."""

    def __init__(self, model, n_jobs, n_chunks: int):
        self.model, self.n_jobs, self.pool = model, min(effective_n_jobs(n_jobs), n_chunks), None

    def __enter__(self) -> _Workers:
        if self.n_jobs > 1:
            # the model goes to the workers as a file: a worker's start then sends a few bytes, and does not
            # wait for the worker to import the library before the next one starts
            self.model_file = tempfile.NamedTemporaryFile(prefix="pkh-model-", suffix=".pickle")
            self.model_file.write(pickle.dumps(self.model))
            self.model_file.flush()
            # loky's workers start without running the caller's script again (safe without a __main__ guard)
            self.pool = ProcessPoolExecutor(
                self.n_jobs, initializer=_start_worker, initargs=(self.model_file.name, os.getpid())
            )
            self.pool.submit(int)  # the workers start (imports, model) while this process splits the batch
        return self

    def __exit__(self, exc_type, *_) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, kill_workers=exc_type is not None)
            self.model_file.close()

    def run(self, task, batch: ChunkedBatch, options: dict, *, per_chunk=None, keep: bool = False):
        """Yield ``task`` of every chunk in chunk order, ``n_jobs`` chunks at once; each chunk's parts
        deleted once done, unless ``keep``."""
        per_chunk = per_chunk or [None] * len(batch)
        batch.split()
        if self.pool is None:
            for k in range(len(batch)):
                yield task(self.model, batch, k, options, per_chunk[k])
                if not keep:
                    batch.discard(k)
            return
        pending = deque()  # (chunk, future); up to two per worker, so that none waits for work
        for k in range(len(batch)):
            pending.append((k, self.pool.submit(task, None, batch, k, options, per_chunk[k])))
            while pending and (len(pending) == 2 * self.n_jobs or k == len(batch) - 1):
                done, future = pending.popleft()
                yield future.result()
                if not keep:
                    batch.discard(done)
