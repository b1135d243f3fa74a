import os
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from conftest import REF
from pkh_targeting import generate_registry
from pkh_targeting.cli import app
from pkh_targeting.scoring import score_files

CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.fixture(scope="module")
def report(fitted_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    batch = generate_registry(1_500, seed=9, regions_seed=0, reference_date=REF)
    batch.write(tmp / "batch")
    fitted_model.save(tmp / "model")
    score_files(fitted_model, tmp / "batch" / "families.parquet", tmp / "batch" / "members.parquet", tmp / "out",
                reference_date=REF)  # fmt: skip
    res = CliRunner().invoke(
        app,
        ["report", "--model", str(tmp / "model"), "--scores", str(tmp / "out" / "scores.parquet"),
         "--out", str(tmp / "report.html")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return tmp / "report.html", batch


def test_report_has_every_section_and_is_self_contained(report, fitted_model):
    path, batch = report
    text = path.read_text()
    sections = ["What the model does", "Accuracy against the proxy-means baseline", "Errors by group",
                "Calibration", "Main reasons behind the scores", "The scored batch",
                "Drift of the batch against training", "Versions"]  # fmt: skip
    for section in sections:
        assert f">{section}<" in text, section
    assert "OLS proxy-means test (baseline)" in text and fitted_model.model_hash() in text
    assert len(re.findall(r'src="data:image/png;base64,', text)) >= 3
    assert not re.search(r'(src|href)="(https?:)?//', text)  # loads nothing from outside
    assert f"{1_500:,}</b>families read" in text


def test_report_holds_no_personal_data(report):
    path, batch = report
    text = path.read_text()
    secrets = set(batch.members.nik) | set(batch.families.head_name) | set(batch.families.address)
    assert not [s for s in secrets if isinstance(s, str) and s in text]


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="no Chromium on this machine (.ci/run installs it)"
)
def test_report_renders_in_headless_chromium(report, tmp_path):
    path, _ = report
    shot = tmp_path / "shot.png"
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,4000"]
    subprocess.run([*args, f"--screenshot={shot}", path.as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 50_000
    dom = subprocess.run([*args, "--dump-dom", path.as_uri()], check=True, capture_output=True, text=True, timeout=120)
    assert "Errors by group" in dom.stdout and dom.stdout.count("<img") >= 3
