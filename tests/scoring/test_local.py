import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REF
from pkh_targeting import SchemaError
from pkh_targeting.scoring import _publishing, read_scores, score_files


def _quarantine(path) -> pd.DataFrame:
    q = pd.read_csv(path, dtype=str, keep_default_na=False)
    q["row"] = q["row"].astype("int64")
    return q.sort_values(["table", "row", "column", "rule"], ignore_index=True)


@pytest.fixture(scope="module")
def whole(fitted_model, messy_batch):
    return fitted_model.score_records(*messy_batch, reference_date=REF)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_chunks_give_the_scores_of_the_whole_batch(fitted_model, messy_batch, whole, tmp_path, fmt, monkeypatch):
    monkeypatch.setattr(_publishing, "_MERGE_FILES", 2)  # quarantines merged in rounds, as for a thousand chunks
    fam, mem = messy_batch
    getattr(fam, f"to_{fmt}")(tmp_path / f"f.{fmt}", index=False)
    getattr(mem, f"to_{fmt}")(tmp_path / f"m.{fmt}", index=False)
    summary = score_files(
        fitted_model, tmp_path / f"f.{fmt}", tmp_path / f"m.{fmt}", tmp_path / "out", chunk_size=600, reference_date=REF
    )
    assert len(list((tmp_path / "out" / "scores.parquet").glob("part-*.parquet"))) == 5
    pd.testing.assert_frame_equal(read_scores(tmp_path / "out" / "scores.parquet"), whole.scores, check_dtype=False)
    # the same problems, on the same input rows, as validating the batch in one piece
    q, w = _quarantine(tmp_path / "out" / "quarantine.csv"), whole.quarantine
    w = w.sort_values(["table", "row", "column", "rule"], ignore_index=True)
    assert q[["table", "row", "column", "rule", "message"]].equals(w[["table", "row", "column", "rule", "message"]])
    assert {"duplicate_family_id", "nik_duplicate", "member_without_family"} <= set(q.rule)
    # every input row is scored or quarantined
    assert summary.n_read == {"families": len(fam), "members": len(mem)}
    assert summary.n_scored + summary.quarantined["families"] == len(fam)
    one = score_files(fitted_model, tmp_path / f"f.{fmt}", tmp_path / f"m.{fmt}", tmp_path / "one", reference_date=REF)
    assert one.data_fingerprint() == summary.data_fingerprint() and one.rules == summary.rules
    # the quarantine file itself, in the same order
    assert (tmp_path / "out" / "quarantine.csv").read_bytes() == (tmp_path / "one" / "quarantine.csv").read_bytes()
    pd.testing.assert_frame_equal(one.drift(fitted_model), summary.drift(fitted_model))


def test_rerun_is_byte_identical_in_any_number_of_processes(fitted_model, messy_batch, tmp_path):
    fam, mem = messy_batch
    fam.to_parquet(tmp_path / "f.parquet")
    mem.to_parquet(tmp_path / "m.parquet")
    runs, progress = [], []
    for out, n_jobs in (("a", None), ("b", 2)):
        score_files(
            fitted_model, tmp_path / "f.parquet", tmp_path / "m.parquet", tmp_path / out, chunk_size=1000,
            n_jobs=n_jobs, progress=lambda done, total: progress.append((out, done, total)),
        )  # fmt: skip
        runs.append({p.relative_to(tmp_path / out): p.read_bytes() for p in (tmp_path / out).rglob("*") if p.is_file()})
    assert runs[0] == runs[1] and len(runs[0]) == 5  # 3 parts, _batch.json, quarantine.csv
    assert progress == [(out, k, 6) for out in "ab" for k in range(7)]  # 0 before the split; scores, then reasons
    manifest = __import__("json").loads(runs[0][next(p for p in runs[0] if p.name == "_batch.json")])
    assert set(manifest["sha256"]) == {str(p) for p in runs[0] if p.name != "_batch.json"}


def test_incomplete_scores_folder_is_refused(tmp_path):
    (tmp_path / "scores.parquet").mkdir()
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "scores.parquet" / "part-00000.parquet")
    with pytest.raises(SchemaError, match="did not finish"):
        read_scores(tmp_path / "scores.parquet")


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_worker_whose_scoring_process_died_before_it_started_exits(tmp_path):
    """A worker whose scoring process was killed before the worker's initializer ran (the worker is
    then another process's child already) exits too, rather than wait for a parent it never had."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "model.pickle").write_bytes(pickle.dumps(None))
    start = f"_start_worker({str(tmp_path / 'model.pickle')!r}, {gone.pid})"
    code = f"import time; from pkh_targeting.scoring._local import _start_worker; {start}; time.sleep(120)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and not done.stderr, done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_score_leaves_no_partial_output_and_rerun_completes(fitted_model, tmp_path):
    from pkh_targeting import generate_registry

    reg = generate_registry(3_000, seed=5, regions_seed=0, reference_date=REF)
    reg.write(tmp_path / "batch")
    fitted_model.save(tmp_path / "model")
    cmd = [
        sys.executable, "-m", "pkh_targeting", "score", "--model", str(tmp_path / "model"),
        "--families", str(tmp_path / "batch" / "families.parquet"),
        "--members", str(tmp_path / "batch" / "members.parquet"),
        "--out", str(tmp_path / "out"), "--chunk-size", "1000", "--no-tracking", "--reference-date", "2025-07-01",
    ]  # fmt: skip
    first_part = tmp_path / "out" / ".staging-scores" / "scores.parquet" / "part-00000.parquet"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not first_part.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)  # the scoring process only: its workers must not work on
    proc.wait()
    assert first_part.exists(), "the run ended before it could be interrupted"
    assert workers, "the batch was not scored in worker processes"
    deadline = time.time() + 30
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert not (tmp_path / "out" / "scores.parquet").exists() and not (tmp_path / "out" / "quarantine.csv").exists()
    # the rerun in this one process (workers: test_rerun_is_byte_identical_in_any_number_of_processes)
    done = subprocess.run([*cmd, "--jobs", "1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "out" / ".staging-scores").exists()
    s = read_scores(tmp_path / "out" / "scores.parquet")
    expected = fitted_model.score(reg.families, reg.members, reference_date=REF)
    pd.testing.assert_frame_equal(s, expected, check_dtype=False)
    assert np.isfinite(s.error_score).all()
    # and byte for byte what this process writes (another process, another hash seed)
    batch = tmp_path / "batch"
    score_files(fitted_model, batch / "families.parquet", batch / "members.parquet", tmp_path / "again",
                chunk_size=1000, reference_date=REF)  # fmt: skip
    files = {p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    again = {p.relative_to(tmp_path / "again"): p.read_bytes() for p in (tmp_path / "again").rglob("*") if p.is_file()}
    assert files == again and len(files) == 5


def test_reasons_written_into_a_part_only_where_the_family_scores_the_same(tmp_path):
    from pkh_targeting.scoring._local import add_reasons

    part = tmp_path / "part-00000.parquet"
    scores = pd.DataFrame({"family_id": ["A", "B", "C"], "error_score": [0.9, 0.5, 0.1], "reasons": [None] * 3})
    scores.astype({"reasons": "string"}).to_parquet(part)
    add_reasons(part, pd.DataFrame({"family_id": ["C", "A"], "error_score": [0.1, 0.9], "reasons": ["c", "a"]}))
    assert pd.read_parquet(part)["reasons"].fillna("-").tolist() == ["a", "-", "c"]
    for wrong in ({"family_id": ["B"], "error_score": [0.4]}, {"family_id": ["Z"], "error_score": [0.5]}):
        with pytest.raises(RuntimeError, match="1 families scored differently"):
            add_reasons(part, pd.DataFrame({**wrong, "reasons": ["x"]}))
    assert pd.read_parquet(part)["reasons"].fillna("-").tolist() == ["a", "-", "c"]
