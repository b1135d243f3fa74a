"""MLflow tracking with real stores: the embedded SQLite store and a real `mlflow server` process."""

import copy
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import REF, occurring
from pkh_targeting import SchemaError, generate_registry, tracking
from pkh_targeting.cli import app
from pkh_targeting.records import file_sha256
from pkh_targeting.scoring import read_scores

runner = CliRunner()


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    root = tmp_path_factory.mktemp("regs")
    train = generate_registry(5_000, seed=51, regions_seed=0, reference_date=REF)
    batch = generate_registry(800, seed=52, regions_seed=0, reference_date=REF, defect_rate=0.02)
    return train.write(root / "train"), batch.write(root / "batch"), train, batch


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the embedded store lives under ./models
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield tmp_path
    mlflow.set_tracking_uri(None)


def _cli(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.stdout


def _train_and_score(train_dir, batch_dir, out, *extra, evidence=True):
    """Train (registered as pkh) and score the batch; with ``evidence``, holdout and registry records too."""
    train_evidence = [
        "--holdout-families",
        batch_dir / "families.parquet",
        "--holdout-members",
        batch_dir / "members.parquet",
        "--registry-records",
        train_dir / "registry_records.parquet",
        "--holdout-registry-records",
        batch_dir / "registry_records.parquet",
    ]
    out_train = _cli(
        "train",
        "--families",
        train_dir / "families.parquet",
        "--members",
        train_dir / "members.parquet",
        "--register",
        "pkh",
        "--out",
        out / "model",
        "--reference-date",
        REF,
        "--config",
        _fast_config(out),
        *(train_evidence if evidence else []),
        *extra,
    )
    out_score = _cli(
        "score",
        "--model",
        "models:/pkh@champion",
        "--families",
        batch_dir / "families.parquet",
        "--members",
        batch_dir / "members.parquet",
        "--out",
        out / "scores",
        *(["--registry-records", batch_dir / "registry_records.parquet"] if evidence else []),
        "--reference-date",
        REF,
        *extra,
    )
    return out_train, out_score


def _fast_config(folder):
    path = Path(folder) / "fast.yaml"
    path.write_text("cv: {n_splits: 3}\n")
    return path


def test_embedded_store_records_training_and_scoring(store, registries):
    train_dir, batch_dir, train, batch = registries
    out_train, out_score = _train_and_score(train_dir, batch_dir, store)
    assert out_train.strip().splitlines()[-1] == "models:/pkh/1"
    assert (store / "models" / "mlruns.db").exists()
    mlflow.set_tracking_uri(tracking.default_tracking_uri(store / "models"))
    client = mlflow.MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("pkh-targeting").experiment_id])
    run = runs[0]
    assert run.data.tags["rules_version"] == "pkh-2025" and len(run.data.tags["data_sha256"]) == 64
    assert run.data.params["config.calibration"] == "auto"
    assert 0.5 < run.data.metrics["cv.survey_auc"] <= 1 and "cv.survey_auc_low" in run.data.metrics
    assert 0.5 < run.data.metrics["holdout.verification_auc"] <= 1 and "holdout.survey_brier" in run.data.metrics
    arts = {a.path for a in client.list_artifacts(run.info.run_id)} | {
        a.path for d in ("plots", "data", "features", "metrics") for a in client.list_artifacts(run.info.run_id, d)
    }
    assert {
        "model_card.md",
        "plots/calibration.png",
        "plots/shap_beeswarm.png",
        "data/fingerprint.json",
        "features/feature_dictionary.csv",
        "metrics/groups.csv",
    } <= arts
    card = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model_card.md")).read_text()
    assert "## Intended use" in card and "## Groups" in card
    # the registered version carries tags and aliases
    mv = client.get_model_version_by_alias("pkh", "champion")
    assert (
        mv.tags["rules_version"] == "pkh-2025"
        and client.get_model_version_by_alias("pkh", "challenger").version == mv.version
    )
    # the scored batch is its own run, linked to the model version
    scoring = client.search_runs([client.get_experiment_by_name("pkh-targeting-scoring").experiment_id])[0]
    assert scoring.data.tags["model_version"] == "pkh/1"
    assert scoring.data.metrics["families_read"] == 800
    assert scoring.data.metrics["families_scored"] + scoring.data.metrics["families_quarantined"] == 800
    hashes = mlflow.artifacts.load_dict(f"runs:/{scoring.info.run_id}/batch/output_sha256.json")
    part = store / "scores" / "scores.parquet" / "part-00000.parquet"
    assert hashes["scores.parquet/part-00000.parquet"] == file_sha256(part)
    assert hashes["quarantine.csv"] == file_sha256(store / "scores" / "quarantine.csv")
    drift = pd.read_csv(
        mlflow.artifacts.download_artifacts(run_id=scoring.info.run_id, artifact_path="batch/drift_psi.csv")
    )
    assert (drift.psi >= 0).all() and len(drift) > 100
    scores = pd.read_parquet(store / "scores" / "scores.parquet")
    assert (scores.model_version == "pkh/1").all()
    # which records went in: the extract's hash and counts per source, in the run and the manifest
    went_in = mlflow.artifacts.load_dict(f"runs:/{scoring.info.run_id}/batch/fingerprint.json")["registry_records"]
    assert went_in["sha256"] == file_sha256(batch_dir / "registry_records.parquet")
    assert went_in["records_read"] == len(batch.registry_records) and "death/nik_exact" in went_in["linked"]
    links = pd.read_parquet(store / "scores" / "links.parquet")
    assert len(links) == len(batch.registry_records) and links["family_id"].notna().mean() > 0.5
    # personal data never reaches the store: scan the database and every artifact
    secrets = set()
    for reg in (train, batch):
        secrets |= set(reg.members.nik.dropna()) | set(reg.members.name) | set(reg.families.address)
        records = reg.registry_records
        secrets |= set(records.nik.dropna()) | set(records.full_name.dropna())
    files = [store / "models" / "mlruns.db", *[p for p in (store / "models" / "artifacts").rglob("*") if p.is_file()]]
    assert len(files) > 20
    blob = b"\n".join(p.read_bytes() for p in files)
    leaks = occurring(blob, secrets)
    assert not leaks, leaks[:5]


def test_pyfunc_loads_from_text_and_returns_the_contract(store, registries, fitted_model, small_registry):
    _, _, _, batch = registries
    tracking.configure()
    model, train = fitted_model, small_registry
    before = dict(vars(model))
    record = tracking.log_training(model, train.families, train.members, register="pkh")
    assert vars(model).keys() == before.keys() and model.model_version.startswith("local:")  # recording reads only
    assert record.model_version == "pkh/1" and record.uri == "models:/pkh/1"
    pyfunc = mlflow.pyfunc.load_model("models:/pkh@champion")
    assert pyfunc.metadata.signature.inputs.input_names()[:3] == ["family_id", "member_no", "nik"]
    fam = batch.families[batch.families.family_id.isin(batch.truth.family_id[batch.truth.defect.isna()])].head(200)
    mem = batch.members[batch.members.family_id.isin(fam.family_id)]
    out = pyfunc.predict(tracking.join_records(fam, mem), params={"reference_date": str(REF)})
    direct = tracking.load_model("models:/pkh@champion").score(fam, mem, reference_date=REF)
    np.testing.assert_allclose(out.sort_values("family_id").p_eligible, direct.sort_values("family_id").p_eligible)
    assert record.version == "1" and (direct.model_version == "pkh/1").all()
    # nothing pickled: the model folder is JSON and LightGBM text
    local = Path(mlflow.artifacts.download_artifacts(record.model_uri))
    assert not list(local.rglob("*.pkl")) and list(local.rglob("model.json")) and list(local.rglob("classifier.txt"))


def test_refusals(store, registries, fitted_model):
    _, _, train, _ = registries
    model = copy.deepcopy(fitted_model)
    with pytest.raises(SchemaError, match="rules 'pkh-2026'"):
        model.require_rules("pkh-2026")
    model.feature_names_ = [*model.feature_names_, "n_solar_panels"]
    with pytest.raises(SchemaError, match="n_solar_panels"):
        model.score(
            train.families.head(50), train.members[train.members.family_id.isin(train.families.family_id.head(50))]
        )


def test_server_that_is_down_fails_fast():
    port = _free_port()
    t0 = time.time()
    with pytest.raises(ConnectionError, match="does not answer"):
        tracking.configure(f"http://127.0.0.1:{port}")
    assert time.time() - t0 < 15


def test_score_when_the_server_is_down(fitted_model, small_registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    small_registry.write(tmp_path / "batch")
    fitted_model.save(tmp_path / "model")
    down = f"http://127.0.0.1:{_free_port()}"
    args = ["score", "--model", str(tmp_path / "model"), "--families", str(tmp_path / "batch" / "families.parquet"),
            "--members", str(tmp_path / "batch" / "members.parquet"), "--tracking-uri", down,
            "--reference-date", "2025-07-01"]  # fmt: skip
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "does not answer" in refused.stderr
    assert not (tmp_path / "scores").exists()  # refused before any work
    res = runner.invoke(app, [*args, "--local-if-down"])
    assert res.exit_code == 0, res.output
    assert "Recording in the local store" in res.stderr
    mlflow.set_tracking_uri(tracking.default_tracking_uri(tmp_path / "models"))
    client = mlflow.MlflowClient()
    run = client.search_runs([client.get_experiment_by_name("pkh-targeting-scoring").experiment_id])[0]
    assert run.data.tags["intended_tracking_uri"] == down
    assert run.data.metrics["families_scored"] == len(read_scores(tmp_path / "scores" / "scores.parquet"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        (tmp_path / "server-artifacts").as_uri(),
        "--workers",
        "1",
    ]
    # without MLflow 3's job runner (GenAI jobs: eight processes that take 20 s of CPU to start)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env)
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start")
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        mlflow.set_tracking_uri(None)


def test_train_register_score_against_a_real_server(mlflow_server, registries, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train_dir, batch_dir, _, _ = registries
    # the evidence and holdout runs are the embedded store's test: the same calls, whatever the store
    out_train, out_score = _train_and_score(
        train_dir, batch_dir, tmp_path, "--tracking-uri", mlflow_server, evidence=False
    )
    assert out_train.strip().splitlines()[-1] == "models:/pkh/1"
    assert not (tmp_path / "models" / "mlruns.db").exists()  # nothing went to the embedded store
    mlflow.set_tracking_uri(mlflow_server)
    client = mlflow.MlflowClient()
    assert client.get_model_version_by_alias("pkh", "champion").version == "1"
    assert len(client.search_runs([client.get_experiment_by_name("pkh-targeting-scoring").experiment_id])) == 1
    assert len(pd.read_parquet(tmp_path / "scores" / "scores.parquet")) > 700
