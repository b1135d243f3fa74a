"""The visit as an ODK/KoboToolbox form, and its submissions read back."""

import datetime as dt
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pyxform.xls2xform import convert
from typer.testing import CliRunner

from pkh_targeting import rank_for_verification, read_feedback, write_field_form
from pkh_targeting.cli import app
from pkh_targeting.verification import read_results


@pytest.fixture(scope="module")
def visits(tmp_path_factory):
    from pkh_targeting import generate_registry

    reg = generate_registry(1500, seed=41, reference_date="2025-07-01")
    rng = np.random.default_rng(0)
    p = rng.random(len(reg.families))
    fam = reg.families
    scores = pd.DataFrame(
        {
            **{c: fam[c] for c in ("family_id", "province_code", "regency_code", "district_code", "village_code")},
            "receives_pkh": fam.receives_pkh,
            "n_components": 1,
            "benefit_rp": 900_000,
            "p_eligible": p,
            "error_type": np.where(fam.receives_pkh, "inclusion", "exclusion"),
            "error_score": np.where(fam.receives_pkh, 1 - p, p),
            "reasons": "Lantai tanah, menaikkan peluang layak",
            "model_version": "pkh/2",
            "rules_version": "pkh-2025",
        }
    ).astype({"reasons": "string"})
    ranked = rank_for_verification(scores, 40, seed=2)
    folder = tmp_path_factory.mktemp("lists")
    ranked.to_parquet(folder / "ranked.parquet")
    paths = write_field_form(ranked, fam, folder / "form", date=dt.date(2026, 3, 2))
    return reg, ranked, folder, paths


def test_the_form_converts_with_pyxform_and_asks_what_a_visit_needs(visits):
    reg, ranked, _, (xlsform, xform_path, visits_csv) = visits
    assert set(openpyxl.load_workbook(xlsform).sheetnames) == {"survey", "choices", "settings"}
    xform = convert(xlsform=str(xlsform), file_type=".xlsx", form_name="pkh_verifikasi").xform  # as on upload
    assert xform == xform_path.read_text()
    for field, kind in (("family_id", "string"), ("result", "string"), ("dwelling_photo", "binary"),
                        ("location", "geopoint"), ("visit_date", "date"), ("officer_name", "string")):  # fmt: skip
        assert re.search(rf'nodeset="[^"]*/{field}" type="{kind}"', xform), field
    assert "jr://file-csv/visits.csv" in xform or "visits.csv" in xform
    for choice in ("eligible", "not_eligible", "not_found", "moved"):
        assert f"<name>{choice}</name>" in xform
    assert re.search(r'version="20260302 pkh/2 pkh-2025 [0-9a-f]{8}"', xform)
    for field in ("grounds", "new_address", "witness_name"):
        assert re.search(rf'nodeset="[^"]*/{field}"[^>]*required="true\(\)"', xform), field
    # the photo and the location are required of a family found at home, not of one not found or moved
    for field in ("dwelling_photo", "location"):
        bind = re.search(rf'<bind [^>]*nodeset="[^"]*/{field}"[^>]*>', xform).group(0)
        assert 'required="true()"' in bind and "eligible" in bind and "not_found" not in bind, bind
    assert "/visit/result  = 'not_eligible'" in xform or "result = 'not_eligible'" in xform.replace("  ", " ")
    for choice in ("well_off", "assets", "civil_servant", "no_component"):
        assert f"<name>{choice}</name>" in xform
    assert 'appearance="autocomplete"' in xform  # the officer searches the visit list
    # another visit list, another version: ODK Central refuses a form whose content changed under one version
    other = write_field_form(ranked.iloc[:20], reg.families, xlsform.parent.parent / "o", date=dt.date(2026, 3, 2))
    version = re.compile(r' version="(2026[^"]+)"')
    again = version.search(other[1].read_text()).group(1)
    assert again != version.search(xform).group(1) and again.startswith("20260302 pkh/2 pkh-2025")
    listed = pd.read_csv(visits_csv, dtype=str)
    assert list(listed.name) == list(ranked.family_id) and listed.head_name.notna().all()
    assert not visits_csv.read_bytes().startswith(b"\xef\xbb\xbf")


def _export(xform: str, rows: list[dict], joiner: str) -> pd.DataFrame:
    """A submissions export as ODK Central (joiner "-") or KoboToolbox ("/") writes it, with the form's own paths."""
    paths = {m.split("/")[-1]: joiner.join(m.split("/")[2:]) for m in re.findall(r'nodeset="(/[^"]+)"', xform)}
    stamp = "SubmissionDate" if joiner == "-" else "_submission_time"
    return pd.DataFrame([{stamp: r.pop("at"), **{paths[k]: v for k, v in r.items()}} for r in rows])


@pytest.mark.parametrize("joiner", ["-", "/"])
def test_submissions_read_back_into_outcomes(visits, tmp_path, joiner):
    reg, ranked, folder, (_, xform_path, _) = visits
    ids = list(ranked.family_id)
    rows = [
        {"at": "2026-03-03T08:00:00Z", "family_id": ids[0], "result": "eligible", "dwelling_photo": "a.jpg"},
        {
            "at": "2026-03-03T09:00:00Z",
            "family_id": ids[1],
            "result": "not_eligible",
            "dwelling_photo": "b.jpg",
            "grounds": "assets income",
            "witness_name": "Pak RT",
        },
        {"at": "2026-03-03T10:00:00Z", "family_id": ids[2], "result": "not_found"},
        {"at": "2026-03-03T11:00:00Z", "family_id": ids[3], "result": "maybe"},
        {"at": "2026-03-04T08:00:00Z", "family_id": ids[1], "result": "eligible", "dwelling_photo": "c.jpg"},
    ]
    export = _export(xform_path.read_text(), rows, joiner)
    path = tmp_path / "submissions.csv"
    export.to_csv(path, index=False)
    results = read_results(path)
    assert list(results.family_id) == [ids[0], ids[1], ids[2], ids[3], ids[1]]  # in submission order
    assert list(results.result.fillna("?")) == ["eligible", "not eligible", "not found", "?", "eligible"]
    assert results.loc[1, "grounds"] == "assets income" and results.loc[1, "witness"] == "Pak RT"
    est, bad = read_feedback(folder, path, tmp_path)
    outcomes = pd.read_csv(tmp_path / "verified_outcomes.csv", encoding="utf-8-sig").set_index("family_id")
    assert outcomes.verified_eligible.to_dict() == {ids[0]: True, ids[1]: True}  # the latest visit of ids[1] wins
    assert outcomes.loc[ids[1], "photo"] == "c.jpg"
    assert est["visited_twice"] == 1 and list(bad.result_raw) == ["maybe"]
    assert bad.expected.iloc[0] == "eligible, not_eligible, not_found, moved"


def test_rank_writes_the_form_with_the_lists(visits, tmp_path):
    reg, ranked, _, _ = visits
    scores = ranked.drop(columns=["list", "unit", "rank", "audit", "explore", "selection_probability",
                                  "benefit_at_stake_rp", "expected_error", "expected_value_rp"])  # fmt: skip
    scores.to_parquet(tmp_path / "scores.parquet")
    reg.families.to_parquet(tmp_path / "families.parquet")
    args = ["rank", "--scores", str(tmp_path / "scores.parquet"), "--families", str(tmp_path / "families.parquet")]
    res = CliRunner().invoke(
        app, [*args, "--budget", "10", "--out", str(tmp_path / "lists"), "--form", "odk", "--audit-margin", "0.3"]
    )
    assert res.exit_code == 0, res.output
    audit = pd.read_csv(tmp_path / "lists" / "audit.csv", encoding="utf-8-sig")
    assert set(audit.estimates) == {"leakage", "undercoverage"} and "±" in res.output
    assert {p.name for p in (tmp_path / "lists" / "form").iterdir()} == {
        "pkh_verifikasi.xlsx",
        "pkh_verifikasi.xml",
        "visits.csv",
    }
