"""Scoring batches: chunks of whole families on this machine or partitions on Dask, published
atomically with a manifest (``scores.parquet/_batch.json``) that `read_scores` checks."""

from ._chunking import CHUNK_FAMILIES, ChunkedBatch, score_chunk
from ._dask import score_dataset, write_partitioned
from ._linking import link_batch, links_of
from ._local import batch_options, score_files
from ._publishing import LINKS, MANIFEST, REPORTS, read_manifest, read_scores
from ._summary import BatchSummary

__all__ = [
    "CHUNK_FAMILIES",
    "LINKS",
    "MANIFEST",
    "REPORTS",
    "BatchSummary",
    "ChunkedBatch",
    "batch_options",
    "link_batch",
    "links_of",
    "read_manifest",
    "read_scores",
    "score_chunk",
    "score_dataset",
    "score_files",
    "write_partitioned",
]
