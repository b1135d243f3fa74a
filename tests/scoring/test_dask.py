import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REF
from pkh_targeting import generate_registry
from pkh_targeting.scoring import read_scores, score_dataset, score_files, write_partitioned

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler():
    """The address of a running cluster, as an office's own would be given with ``--scheduler``: two
    workers reached over TCP, which run in this process (no second import of the library); the first
    test starts the default, a `LocalCluster` of worker processes."""
    import distributed

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_on_a_local_cluster_equals_the_pandas_engine(fitted_model, messy_batch, tmp_path):
    from pkh_targeting.scoring import score_dataset, write_partitioned

    fam, mem = messy_batch
    data = write_partitioned(fam, mem, tmp_path / "data")
    assert len(list((data / "families").glob("province_code=*"))) > 1
    pandas_run = score_files(
        fitted_model, data / "families", data / "members", tmp_path / "pandas", chunk_size=700, reference_date=REF
    )
    dask_run = score_dataset(fitted_model, data / "families", data / "members", tmp_path / "dask", reference_date=REF)
    a, b = (
        read_scores(tmp_path / d / "scores.parquet").sort_values("family_id", ignore_index=True)
        for d in ("pandas", "dask")
    )
    pd.testing.assert_frame_equal(a, b)
    qa, qb = (
        pd.read_csv(tmp_path / d / "quarantine.csv", dtype=str).sort_values(
            ["table", "row", "column", "rule"], ignore_index=True
        )
        for d in ("pandas", "dask")
    )
    pd.testing.assert_frame_equal(qa, qb)
    assert {"duplicate_family_id", "nik_duplicate", "member_without_family"} <= set(qb.rule)
    assert dask_run.to_dict() == pandas_run.to_dict()
    assert dask_run.n_scored + dask_run.quarantined["families"] == len(fam)
    # nothing lost while partitioning: the same rows, and the scores of the batch in one piece
    assert dask_run.n_read == {"families": len(fam), "members": len(mem)}
    whole = fitted_model.score_records(fam, mem, reference_date=REF).scores
    pd.testing.assert_frame_equal(b, whole.sort_values("family_id", ignore_index=True))


def test_missing_dask_is_a_clear_message(monkeypatch):
    from pkh_targeting.scoring import _dask

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pkh-targeting\[dask\]"):
        _dask._require_dask()


def test_cli_scores_a_partitioned_synthetic_registry_on_dask(fitted_model, scheduler, tmp_path):
    from typer.testing import CliRunner

    from pkh_targeting.cli import app

    runner = CliRunner()
    synth = runner.invoke(
        app,
        ["synth", "-n", "1500", "--out", str(tmp_path / "reg"), "--partition-by", "regency_code",
         "--reference-date", "2025-07-01"],
    )  # fmt: skip
    assert synth.exit_code == 0, synth.output
    fitted_model.save(tmp_path / "model")
    data = tmp_path / "reg" / "partitioned"
    res = runner.invoke(
        app,
        ["score", "--model", str(tmp_path / "model"), "--families", str(data / "families"),
         "--members", str(data / "members"), "--out", str(tmp_path / "out"), "--engine", "dask",
         "--scheduler", scheduler, "--no-tracking", "--reference-date", "2025-07-01"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    scores = read_scores(tmp_path / "out" / "scores.parquet")
    assert len(scores) == 1500 and scores.family_id.is_unique
    for option, value in (("--engine", "spark"), ("--reasons", "some")):  # refused before the model is read
        bad = runner.invoke(app, ["score", "--model", "nowhere", "--families", "f", "--members", "m",
                                  option, value, "--no-tracking"])  # fmt: skip
        assert bad.exit_code == 2 and f"Invalid value for '{option}'" in bad.stderr, bad.stderr


def test_dask_links_the_batch_once_and_scores_as_in_memory(evidence_model, scheduler, tmp_path):
    """Registry records on the Dask engine: linked once for the whole partitioned batch, the
    partitions' scores equal to scoring the unpartitioned batch in memory with the same records."""
    reg = generate_registry(1_500, seed=5, regions_seed=0, reference_date=REF)
    folder = write_partitioned(reg.families, reg.members, tmp_path / "part", by="province_code")
    out = tmp_path / "out"
    summary = score_dataset(
        evidence_model,
        folder / "families",
        folder / "members",
        out,
        scheduler=scheduler,
        registry_records=reg.registry_records,
        reference_date=REF,
        reasons="none",
    )
    got = pd.read_parquet(out / "scores.parquet").set_index("family_id").sort_index()
    want = evidence_model.score(
        reg.families, reg.members, registry_records=reg.registry_records, reference_date=REF, reasons="none"
    )
    want = want.set_index("family_id").sort_index()
    assert len(got) == len(reg.families) and np.allclose(got["p_eligible"], want["p_eligible"], atol=1e-12)
    assert summary.evidence["registry_records"]["records_read"] == len(reg.registry_records)
    assert len(pd.read_parquet(out / "links.parquet")) == len(reg.registry_records)
