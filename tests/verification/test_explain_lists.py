"""Reasons for listed families that were scored without them (verification.explain_lists, rank --model)."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import REF
from pkh_targeting import SchemaError, generate_registry, rank_for_verification
from pkh_targeting.cli import app
from pkh_targeting.scoring import read_scores, score_files
from pkh_targeting.verification import explain_lists


@pytest.fixture(scope="module")
def scored(fitted_model, tmp_path_factory):
    """A batch on file, scored in chunks without reasons."""
    path = tmp_path_factory.mktemp("batch")
    reg = generate_registry(1_500, seed=5, regions_seed=0, reference_date=REF)
    reg.write(path / "reg")
    files = path / "reg" / "families.parquet", path / "reg" / "members.parquet"
    score_files(fitted_model, *files, path / "out", chunk_size=1_000, reference_date=REF, reasons="none")
    return reg, files, path


def test_listed_families_get_the_reasons_of_scoring_with_reasons(fitted_model, scored):
    reg, files, path = scored
    manifest = json.loads((path / "out" / "scores.parquet" / "_batch.json").read_text())
    assert manifest["reference_date"] == REF.isoformat() and manifest["reasons"] == "none"
    ranked = rank_for_verification(read_scores(path / "out" / "scores.parquet"), 120, audit_share=0.25)
    assert ranked.reasons.isna().all()
    filled = explain_lists(ranked, fitted_model, *files, reference_date=REF, language="en")
    full = fitted_model.score_records(reg.families, reg.members, reference_date=REF, reasons="all", language="en")
    expected = full.scores.set_index("family_id")["reasons"].reindex(ranked.family_id)
    assert filled.reasons.notna().all()
    assert (filled.reasons.to_numpy() == expected.to_numpy()).all()
    pd.testing.assert_frame_equal(filled.drop(columns="reasons"), ranked.drop(columns="reasons"))
    tables = reg.families.rename(columns={"family_id": "id_keluarga"}), reg.members  # tables in memory, aliases
    in_memory = explain_lists(ranked, fitted_model, *tables, reference_date=REF, language="en")
    pd.testing.assert_frame_equal(in_memory, filled)
    assert explain_lists(filled, fitted_model, *files) is filled  # nothing left to explain, nothing read


def test_refuses_another_model_or_date(fitted_model, scored):
    _, files, path = scored
    ranked = rank_for_verification(read_scores(path / "out" / "scores.parquet"), 60)
    with pytest.raises(ValueError, match="scored by local:other, not by local:"):
        explain_lists(ranked.assign(model_version="local:other"), fitted_model, *files, reference_date=REF)
    with pytest.raises(SchemaError, match="families (score differently|on the lists are not valid)"):
        explain_lists(ranked, fitted_model, *files, reference_date="2021-01-01")


def test_score_without_reasons_then_rank_explains(fitted_model, scored, tmp_path):
    _, (families, members), _ = scored
    fitted_model.save(tmp_path / "model")
    common = ["--families", str(families), "--members", str(members)]
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["score", "--model", str(tmp_path / "model"), *common, "--out", str(tmp_path / "s"), "--reasons", "none"]
        + ["--reference-date", REF, "--no-tracking"],
    )
    assert res.exit_code == 0, res.output
    assert read_scores(tmp_path / "s" / "scores.parquet").reasons.isna().all()
    rank = ["rank", "--scores", str(tmp_path / "s" / "scores.parquet"), *common, "--budget", "80"]
    res = runner.invoke(
        app, [*rank, "--model", str(tmp_path / "model"), "--no-public-lists", "--out", str(tmp_path / "l")]
    )
    assert res.exit_code == 0, res.output  # the reference date comes from the scores' manifest
    assert pd.read_parquet(tmp_path / "l" / "ranked.parquet").reasons.notna().all()
    assert not (tmp_path / "l" / "public").exists()
    res = runner.invoke(app, [*rank, "--no-public-lists", "--out", str(tmp_path / "l0")])
    assert res.exit_code == 0 and "80 listed families have no reasons" in res.output
    no_members = [a for a in rank if a not in ("--members", str(members))]
    res = runner.invoke(app, [*no_members, "--model", str(tmp_path / "model"), "--out", str(tmp_path / "l2")])
    assert res.exit_code != 0 and "give --members too" in res.output
