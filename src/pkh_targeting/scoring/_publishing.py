"""Publishing a scored batch: a staging folder moved into place when complete, with its manifest.

Outputs go to a staging folder and are moved into place only when complete::

    OUT/scores.parquet/part-00000.parquet ...   scored-batch contract, one part per chunk
    OUT/scores.parquet/_batch.json              the manifest: counts, versions, SHA-256 of every output
    OUT/quarantine.csv                          one row per problem, in input row order

A run killed midway leaves the previous outputs (or none), never a partial ``scores.parquet``;
rerunning gives byte-identical files. This module is the one writer and reader of the manifest.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from ..exceptions import SchemaError
from ..modeling import REASONS_SHARE
from ..outputs import atomic_path, neutralize_formulas, write_parquet
from ..records import QUARANTINE_COLUMNS
from ..records.lineage import file_sha256
from ._summary import BatchSummary

MANIFEST = "_batch.json"
LINKS, REPORTS, EVIDENCE_QUARANTINE = "links.parquet", "community_reports.parquet", "evidence_quarantine.csv"
MANIFEST_FORMAT = "pkh-targeting-batch/1"
_MERGE_FILES = 200


class Staging:
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

    def add_table(self, table: pd.DataFrame, name: str) -> Path:
        """Write a table of the batch's evidence (its links, its valid reports); `publish` moves it
        into place. Returns its path."""
        return write_parquet(table, self.path / name, index=False)

    def add_evidence_quarantine(self, q: pd.DataFrame) -> None:
        """The quarantine of the batch's evidence tables (``evidence_quarantine.csv``)."""
        neutralize_formulas(q).to_csv(self.path / EVIDENCE_QUARANTINE, index=False, encoding="utf-8-sig")

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
        """Merge the quarantine, write the manifest, and move the outputs into place."""
        self._merge_quarantine()
        scores_dir = self.path / "scores.parquet"
        parts = sorted(p for p in scores_dir.glob("*.parquet"))
        write_manifest(scores_dir, summary, model, options, parts, self.quarantine)
        self.out.mkdir(parents=True, exist_ok=True)
        old = self.path / "previous"
        old.mkdir()
        evidence = [n for n in (LINKS, REPORTS, EVIDENCE_QUARANTINE) if (self.path / n).exists()]
        for name in ("quarantine.csv", "scores.parquet", *evidence):
            if (self.out / name).exists():
                os.replace(self.out / name, old / name)
            os.replace(self.path / name, self.out / name)
        shutil.rmtree(self.path)
        summary.scores_path = self.out / "scores.parquet"
        summary.outputs = [summary.scores_path / p.name for p in parts] + [
            self.out / n for n in ("quarantine.csv", *evidence)
        ]
        return summary


def write_manifest(
    scores_dir: Path, summary: BatchSummary, model, options: dict, parts: list, quarantine: Path
) -> None:
    """``scores_dir/_batch.json``: counts, versions, the reference date, drift and the SHA-256 of every output."""
    manifest = {
        "format": MANIFEST_FORMAT,
        "model_version": model.model_version,
        "rules_version": model.rules_.version,
        "reference_date": options["reference_date"].isoformat(),
        "reasons": options.get("reasons", "auto"),
        **(
            {"reasons_share": options.get("reasons_share", REASONS_SHARE)}
            if options.get("reasons", "auto") == "auto"
            else {}
        ),
        **summary.to_dict(),
        "drift": summary.drift(model)[["feature", "psi"]].round(4).to_dict("records"),
        "sha256": {
            **{f"scores.parquet/{p.name}": file_sha256(p) for p in parts},
            "quarantine.csv": file_sha256(quarantine),
        },
    }
    with atomic_path(scores_dir / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))


def read_manifest(path) -> dict:
    """The manifest of a scores folder written by `score_files`; ``{}`` for a single Parquet file.

    Raises `SchemaError` for a folder without it (an incomplete output) or a path that does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise SchemaError(f"{path}: no such scores file or folder.")
    if not path.is_dir():
        return {}
    if not (path / MANIFEST).is_file():
        raise SchemaError(f"{path}: no {MANIFEST}, so the scoring that wrote it did not finish; score again.")
    return json.loads((path / MANIFEST).read_text())


def _merge_csv(parts: list[Path], out: Path | None = None) -> Path:
    """Merge CSV files (no header) sorted by table and row into ``out`` (appended; by default a new part)."""
    out = out or parts[0].with_name(f"merged-{parts[0].name}")
    with contextlib.ExitStack() as stack:
        readers = [csv.reader(stack.enter_context(open(p, newline="", encoding="utf-8"))) for p in parts]
        with open(out, "a", newline="", encoding="utf-8") as f:
            rows = heapq.merge(*readers, key=lambda r: (r[0], int(r[1])))
            csv.writer(f, lineterminator="\n").writerows(rows)
    return out


def read_scores(path, columns=None) -> pd.DataFrame:
    """Read scores written by `score_files` (a folder of parts) or a single Parquet file.

    Raises `SchemaError` for a folder without its manifest: an incomplete output.
    """
    read_manifest(path)
    return pd.read_parquet(path, columns=columns)
