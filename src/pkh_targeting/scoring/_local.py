"""Scoring a batch from files on this machine, chunk by chunk, with bounded memory and atomic outputs.

`score_files` is what ``pkh-targeting score`` runs. The batch is split into chunks of whole families
(`ChunkedBatch`), scored in worker processes, and published with its manifest (`Staging`): the
scores equal those of `TargetingModel.score_records` on the whole batch, in the same order, whatever
the chunk size or the number of workers.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import deque

from joblib import effective_n_jobs
from joblib.externals.loky import ProcessPoolExecutor, process_executor
from threadpoolctl import threadpool_limits

from ..outputs import write_parquet
from ..records import as_reference_date
from ._chunking import CHUNK_FAMILIES, ChunkedBatch, score_chunk
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
    return staging.publish(summary, model, published_options(options, summary, lineage))


def batch_options(options: dict) -> dict:
    """``options`` with the reference date fixed for the whole batch (today, by default), so that a
    run past midnight scores every chunk on the same date, and the manifest records it."""
    return {**options, "reference_date": as_reference_date(options.get("reference_date"))}


_WORKER: dict = {}


def _start_worker(model) -> None:
    """Worker initializer: one thread (LightGBM, BLAS), the model kept, and exit as soon as the scoring
    process is gone rather than work on for nobody."""
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
