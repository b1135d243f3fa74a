import json
import subprocess
import sys

import pandas as pd
from typer.testing import CliRunner

from pkh_targeting.cli import app
from pkh_targeting.modeling import TargetingModel

runner = CliRunner()


def test_synth_then_validate(tmp_path):
    res = runner.invoke(
        app,
        [
            "synth",
            "--families",
            "500",
            "--seed",
            "2",
            "--out",
            str(tmp_path / "reg"),
            "--defect-rate",
            "0.05",
            "--reference-date",
            "2025-07-01",
        ],
    )
    assert res.exit_code == 0, res.output
    truth = pd.read_parquet(tmp_path / "reg" / "truth.parquet")
    res = runner.invoke(
        app,
        [
            "validate",
            "--families",
            str(tmp_path / "reg" / "families.parquet"),
            "--members",
            str(tmp_path / "reg" / "members.parquet"),
            "--out",
            str(tmp_path / "v"),
            "--reference-date",
            "2025-07-01",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "quarantined" in res.output and "problems by rule" in res.output
    q = pd.read_csv(tmp_path / "v" / "quarantine.csv", encoding="utf-8-sig", dtype=str)
    caught = truth[truth.defect_rule.notna()].family_id
    assert set(caught) <= set(q.family_id)
    valid = pd.read_parquet(tmp_path / "v" / "families.parquet")
    assert len(valid) + q.query("table == 'families'").row.nunique() == 500


def test_unusable_input_exits_2_without_traceback(tmp_path):
    (tmp_path / "f.csv").write_text("a,b\n1,2\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pkh_targeting",
            "validate",
            "--families",
            str(tmp_path / "f.csv"),
            "--members",
            str(tmp_path / "f.csv"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:") and "misses" in proc.stderr


def test_train_then_score(tmp_path):
    for n, seed in ((6000, 31), (800, 32)):
        res = runner.invoke(
            app,
            [
                "synth",
                "-n",
                str(n),
                "--seed",
                str(seed),
                "--out",
                str(tmp_path / f"r{seed}"),
                "--reference-date",
                "2025-07-01",
            ],
        )
        assert res.exit_code == 0, res.output
    cfg = tmp_path / "train.yaml"
    cfg.write_text("cv: {n_splits: 3}\n")
    res = runner.invoke(
        app,
        [
            "train",
            "--families",
            str(tmp_path / "r31" / "families.parquet"),
            "--members",
            str(tmp_path / "r31" / "members.parquet"),
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "model"),
            "--reference-date",
            "2025-07-01",
            "--no-tracking",
        ],
    )
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == str((tmp_path / "model").resolve())
    res_args = [
        "score",
        "--model",
        str(tmp_path / "model"),
        "--families",
        str(tmp_path / "r32" / "families.parquet"),
        "--members",
        str(tmp_path / "r32" / "members.parquet"),
        "--out",
        str(tmp_path / "s"),
        "--reference-date",
        "2025-07-01",
        "--no-tracking",
    ]
    res = runner.invoke(app, res_args)
    assert res.exit_code == 0, res.output
    scores = pd.read_parquet(tmp_path / "s" / "scores.parquet")
    assert len(scores) == 800 and scores.p_eligible.between(0, 1).all()
    assert (tmp_path / "s" / "quarantine.csv").exists()
    # the command line scores exactly as the Python API does, with the model it saved and the model trained in Python
    fam, mem = (pd.read_parquet(tmp_path / "r32" / f"{t}.parquet") for t in ("families", "members"))
    api = TargetingModel.load(tmp_path / "model").score(fam, mem, reference_date="2025-07-01")
    pd.testing.assert_frame_equal(scores, api)
    trained = TargetingModel(cfg).fit(
        *(pd.read_parquet(tmp_path / "r31" / f"{t}.parquet") for t in ("families", "members")),
        reference_date="2025-07-01",
    )
    assert trained.model_hash() == TargetingModel.load(tmp_path / "model").model_hash()
    # a wider reasons share explains more families, as the API does, and the manifest says which
    args = [a if a != str(tmp_path / "s") else str(tmp_path / "wide") for a in res_args]
    assert runner.invoke(app, [*args, "--reasons-share", "0.3"]).exit_code == 0
    wide = pd.read_parquet(tmp_path / "wide" / "scores.parquet")
    api = TargetingModel.load(tmp_path / "model").score(fam, mem, reference_date="2025-07-01", reasons_share=0.3)
    pd.testing.assert_frame_equal(wide, api)
    assert wide.reasons.notna().sum() > scores.reasons.notna().sum()
    manifest = json.loads((tmp_path / "wide" / "scores.parquet" / "_batch.json").read_text())
    assert manifest["reasons"] == "auto" and manifest["reasons_share"] == 0.3


def test_score_with_a_missing_model_exits_2(tmp_path):
    res = runner.invoke(
        app, ["score", "--model", str(tmp_path / "nope"), "--families", "f.csv", "--members", "m.csv", "--no-tracking"]
    )
    assert res.exit_code == 2 and "not a pkh-targeting model folder" in res.output  # not just any usage error


def test_demo_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    res = runner.invoke(app, ["demo", "--families", "4000", "--out", "demo"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "demo" / "scores" / "scores.parquet" / "_batch.json").exists()
    assert (tmp_path / "models" / "mlruns.db").exists()
    assert list((tmp_path / "demo" / "lists" / "field").glob("verifikasi_*.xlsx"))
    assert pd.read_parquet(tmp_path / "demo" / "lists" / "ranked.parquet").reasons.notna().all()  # audit sample too
    assert "<h2>The scored batch</h2>" in (tmp_path / "demo" / "report.html").read_text()
    assert "mlflow ui --backend-store-uri" in res.stdout and "what the demo wrote" in res.stdout
    # the report's model is at least as good as the OLS proxy-means test on the same rows and folds
    m = TargetingModel.load(tmp_path / "demo" / "model").cv_metrics_
    assert m["survey_auc"] >= m["baseline_ols_survey_auc"]
    assert m["survey_top10_precision"] >= m["baseline_ols_survey_top10_precision"]


def test_readme_cli_reference_is_generated_from_the_cli():
    from pathlib import Path

    from pkh_targeting.cli.reference import END, START, cli_reference

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split(START)[1].split(END)[0]
    assert section.strip() == cli_reference().strip(), "run: python -m pkh_targeting.cli.reference README.md"
    assert "`--engine`" in section and "#### `pkh-targeting report`" in section
