import os
import re
import shutil
import subprocess

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import REF
from pkh_targeting import apply_rules, generate_registry
from pkh_targeting.cli import app
from pkh_targeting.exceptions import SchemaError
from pkh_targeting.modeling import candidates
from pkh_targeting.verification import (
    HEADERS,
    audit_margins,
    benefit_at_stake,
    estimate_errors,
    meeting_agenda,
    public_list,
    rank_for_verification,
    summarize_lists,
    write_field_form,
    write_field_lists,
)
from pkh_targeting.verification._ranking import pps_sample


@pytest.fixture(scope="module")
def batch():
    reg = generate_registry(3_000, seed=61, reference_date=REF)
    comps = apply_rules(reg.families, reg.members)
    rng = np.random.default_rng(0)
    fam = reg.families
    p = np.where(comps.has_component.to_numpy(), rng.beta(2, 3, len(fam)), 0.0)
    receives = fam.receives_pkh.to_numpy()
    scores = pd.DataFrame(
        {
            **{
                c: fam[c].to_numpy()
                for c in ("family_id", "province_code", "regency_code", "district_code", "village_code")
            },
            "receives_pkh": receives,
            "n_components": comps.n_components.to_numpy(),
            "benefit_rp": comps.benefit_rp.to_numpy(),
            "p_eligible": p,
            "error_type": np.where(receives, "inclusion", "exclusion"),
            "error_score": np.where(receives, 1 - p, p),
            "reasons": "Lantai tanah, menaikkan peluang layak",
            "model_version": "pkh/3",
            "rules_version": "pkh-2025",
        }
    )
    return reg, scores


def test_budget_split_audit_and_order(batch):
    _, scores = batch
    r = rank_for_verification(scores, 400, audit_share=0.1, seed=1)
    assert len(r) == 400 and r.family_id.is_unique
    assert r.audit.sum() == 40 and (r.groupby("list").size() == 200).all()
    ranked = r[~r.audit]
    for (_, _), g in ranked.groupby(["list", "unit"]):
        assert g.expected_value_rp.is_monotonic_decreasing and list(g["rank"]) == list(range(1, len(g) + 1))
    # every district with candidates gets at least one ranked visit
    for t in ("inclusion", "exclusion"):
        units = set(scores[scores.error_type == t].district_code)
        assert units <= set(ranked[ranked.list == t].unit)
    # the audit sample comes from families not ranked, with its known probability
    aud = r[r.audit & (r.list == "inclusion")]
    pool = (scores.error_type == "inclusion").sum() - (~r.audit & (r.list == "inclusion")).sum()
    assert np.allclose(aud.selection_probability, len(aud) / pool)
    np.testing.assert_allclose(r.expected_value_rp, r.error_score * r.benefit_at_stake_rp)


def test_value_priority_beats_random_and_probability_option(batch):
    _, scores = batch
    by_value = rank_for_verification(scores, 300, audit_share=0.0)
    by_prob = rank_for_verification(scores, 300, audit_share=0.0, priority="probability")
    assert by_value.expected_value_rp.sum() > by_prob.expected_value_rp.sum()
    assert by_prob.expected_error.sum() > by_value.expected_error.sum()
    summary = summarize_lists(by_prob, scores)
    assert summary.expected_errors_found.sum() > 1.3 * summary.expected_errors_random.sum()
    assert len(summary) == by_prob.groupby(["list", "unit"]).ngroups and summary.visits.sum() == 300
    row = summary.iloc[len(summary) // 2]  # against a random visit of the same unit and list
    pool = scores[(scores.error_type == row.list) & (scores.district_code == row.unit)]
    mine = by_prob[(by_prob.list == row.list) & (by_prob.unit == row.unit)]
    assert row.visits == len(mine) and row.expected_errors_found == pytest.approx(mine.expected_error.sum())
    assert row.expected_errors_random == pytest.approx(len(mine) * pool.error_score.mean())
    paid_least = scores.benefit_rp[scores.benefit_rp > 0].min()  # benefit at stake of a family with no component
    value = pool.error_score * pool.benefit_rp.where(pool.benefit_rp > 0, paid_least)
    assert row.rupiah_at_stake_random == pytest.approx(len(mine) * value.mean())


def test_budget_follows_expected_errors(batch):
    _, scores = batch
    r = rank_for_verification(scores, 600, audit_share=0.0, min_per_unit=0)
    exp = scores[scores.error_type == "exclusion"].groupby("district_code").error_score.sum()
    got = r[r.list == "exclusion"].groupby("unit").size().reindex(exp.index, fill_value=0)
    assert np.corrcoef(exp, got)[0, 1] > 0.9


def test_reproducible_and_seeded(batch):
    _, scores = batch
    a = rank_for_verification(scores, 300, seed=5)
    pd.testing.assert_frame_equal(a, rank_for_verification(scores.sample(frac=1, random_state=3), 300, seed=5))
    assert set(a[a.audit].family_id) != set(rank_for_verification(scores, 300, seed=6).query("audit").family_id)


def test_bad_arguments(batch):
    _, scores = batch
    for kw, msg in (
        ({"by": "province_code"}, "by must be"),
        ({"priority": "rupiah"}, "priority must be"),
        ({"audit_share": 1.5}, "audit_share"),
    ):
        with pytest.raises(ValueError, match=msg):
            rank_for_verification(scores, 10, **kw)


def test_field_lists_excel_and_csv(batch, tmp_path):
    reg, scores = batch
    fam = reg.families.copy()
    first = scores.sort_values("error_score", ascending=False).family_id.iloc[0]
    fam.loc[fam.family_id == first, "head_name"] = '=HYPERLINK("http://x","klik")'
    r = rank_for_verification(scores, 200, seed=1)
    r.loc[r.family_id == r.family_id.iloc[0], "reasons"] = "+cmd|' /C calc'!A0"
    paths = write_field_lists(r, fam, tmp_path, language="id")
    xlsx = [p for p in paths if p.suffix == ".xlsx"]
    assert {p.stem.split("_")[1] for p in xlsx} == set(r.regency_code)
    wb = openpyxl.load_workbook(xlsx[0])
    ws = wb[wb.sheetnames[0]]
    assert {n.split()[0] for n in wb.sheetnames} <= set(r.district_code)
    assert {n.split()[1] for n in wb.sheetnames} <= {"inklusi", "eksklusi"}
    assert "pkh/3" in ws["A1"].value and "pkh-2025" in ws["A1"].value and "nama dan alamat" in ws["A3"].value
    header = [c.value for c in ws[5]]
    assert header == list(HEADERS["id"].values())
    cells = [
        c.value for row in wb.worksheets for r_ in row.iter_rows(min_row=6) for c in r_ if isinstance(c.value, str)
    ]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in cells)
    result_column = openpyxl.utils.get_column_letter(header.index(HEADERS["id"]["result"]) + 1)
    for sheet in wb.worksheets:  # one list a sheet, numbered from 1; printable; the result a drop-down
        rows = list(sheet.iter_rows(min_row=6, values_only=True))
        assert rows[0][0] == 1 and len({row[6] for row in rows}) == 1
        assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
        assert sheet.print_title_rows == "$5:$5" and sheet.freeze_panes == "A6"
        (choices,) = sheet.data_validations.dataValidation
        assert choices.formula1 == '"layak,tidak layak,tidak ditemukan,pindah"' and f"{result_column}6" in str(
            choices.sqref
        )
        names = [row[2] for row in rows if row[2]]
        assert sheet.column_dimensions["C"].width >= max(map(len, names))
        reasons_at = header.index(HEADERS["id"]["reasons"])  # the reasons wrap, the ids do not; all at the top
        wraps = [(c.alignment.wrap_text, c.alignment.vertical) for c in next(sheet.iter_rows(min_row=6))]
        assert wraps[reasons_at] == (True, "top") and wraps[0] in ((False, "top"), (None, "top"))
    csv = [p for p in paths if p.suffix == ".csv"][0]
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(csv, encoding="utf-8-sig")
    assert list(back.columns) == list(HEADERS["id"].values()) and back["Hasil kunjungan"].isna().all()
    assert "p_eligible" not in back and "Skor" not in back and "Sampel acak" not in back


def test_field_documents_carry_no_score_and_no_audit_mark(batch, tmp_path):
    """A blind audit: the teams cannot tell the random families from the ranked ones, nor see a score."""
    reg, scores = batch
    r = rank_for_verification(scores, 120, seed=3, audit_share=0.25)
    r = r.assign(reasons="Lantai tanah")  # every family with reasons, as rank --model gives them
    paths = write_field_lists(r, reg.families, tmp_path / "field") + write_field_form(r, reg.families, tmp_path / "f")
    marks = {"Skor", "Score", "Sampel acak", "Random audit", "audit", "selection_probability", "error_score"}
    numbers = {f"{v:.3f}" for v in r["error_score"]} | {f"{v:.2f}" for v in r["error_score"]}
    for path in paths:
        if path.suffix == ".xlsx":
            cells = [str(c) for ws in openpyxl.load_workbook(path).worksheets for row in ws.iter_rows(values_only=True)
                     for c in row if c is not None]  # fmt: skip
        elif path.suffix == ".csv":
            cells = [str(c) for c in pd.read_csv(path, dtype=str, encoding="utf-8-sig", header=None).stack()]
        else:
            cells = [path.read_text()]
        assert not [c for c in cells if c in marks or c.strip() in numbers], path
    # the audit families are not where the list ends: the rows are in route order
    sheets = pd.read_excel(paths[0], sheet_name=None, header=4)
    for sheet in sheets.values():
        ids = sheet["ID keluarga"].dropna().tolist()
        village = sheet["Kode desa"].dropna().tolist()
        assert village == sorted(village) and ids == [i for _, i in sorted(zip(village, ids))]


def test_public_list_masks_nik_and_has_no_scores(batch):
    reg, _ = batch
    pub = public_list(reg.families, reg.members)
    assert list(pub.columns) == ["village_code", "family_id", "head_name", "nik_masked"]
    assert len(pub) == reg.families.receives_pkh.sum()
    assert pub.nik_masked.dropna().str.fullmatch(r"\d{6}\*{6}\d{4}").all()
    assert not set(pub.nik_masked.dropna()) & set(reg.members.nik.dropna())


def test_rank_cli(batch, tmp_path):
    reg, scores = batch
    scores.to_parquet(tmp_path / "scores.parquet")
    reg.write(tmp_path / "reg")
    res = CliRunner().invoke(
        app,
        [
            "rank",
            "--scores",
            str(tmp_path / "scores.parquet"),
            "--families",
            str(tmp_path / "reg" / "families.parquet"),
            "--members",
            str(tmp_path / "reg" / "members.parquet"),
            "--budget",
            "120",
            "--out",
            str(tmp_path / "lists"),
            "--language",
            "en",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "lists" / "summary.csv").exists() and len(
        pd.read_parquet(tmp_path / "lists" / "ranked.parquet")
    ) == 120
    assert list((tmp_path / "lists" / "public").glob("uji_publik_*.csv"))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "xlsx"])
def test_rank_cli_reads_only_the_visited_families(batch, tmp_path, monkeypatch, fmt):
    from pkh_targeting.records import streaming

    monkeypatch.setattr(streaming, "READ_ROWS", 700)  # several read batches
    reg, scores = batch
    scores.to_parquet(tmp_path / "scores.parquet")
    fam = reg.families.assign(family_id=" " + reg.families.family_id + " ")  # ids as typed, padded
    path = tmp_path / f"families.{fmt}"
    {"parquet": fam.to_parquet, "csv": fam.to_csv, "xlsx": fam.to_excel}[fmt](path, index=False)
    args = ["rank", "--scores", str(tmp_path / "scores.parquet"), "--families", str(path), "--budget", "90"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "lists"), "--language", "en"])
    assert res.exit_code == 0, res.output
    lists = pd.concat(pd.read_csv(p, encoding="utf-8-sig") for p in (tmp_path / "lists" / "field").glob("*.csv"))
    assert len(lists) == 90
    names = reg.families.set_index("family_id")["head_name"]
    assert (lists["Head of family"].to_numpy() == names.reindex(lists["Family ID"]).to_numpy()).all()


def test_read_records_of(batch, tmp_path):
    from pkh_targeting.records import read_records_of

    reg, _ = batch
    reg.families.drop(columns="address").to_parquet(tmp_path / "f.parquet")
    ids = reg.families.family_id.iloc[[5, 1, 5]]
    with pytest.raises(SchemaError, match="misses 1 required column.*address"):
        read_records_of(tmp_path / "f.parquet", "families", ids, ["family_id", "head_name"])
    reg.write(tmp_path / "reg")
    got = read_records_of(tmp_path / "reg" / "families.parquet", "families", ids, ["family_id", "head_name"])
    assert list(got.family_id) == list(reg.families.family_id.iloc[[1, 5]])  # file order, once each
    mem = read_records_of(tmp_path / "reg" / "members.parquet", "members", ids)
    expected = reg.members[reg.members.family_id.isin(ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(mem, expected, check_dtype=False)


@pytest.mark.skipif(
    not (os.environ.get("CI") or (shutil.which("soffice") and shutil.which("pdfinfo"))),
    reason="no LibreOffice or pdfinfo here (.ci/run installs them)",
)
def test_field_lists_print_one_page_wide_landscape(batch, tmp_path):
    reg, scores = batch
    r = rank_for_verification(scores, 60, seed=1)
    r = r[r.regency_code == r.regency_code.iloc[0]]
    (xlsx, _) = write_field_lists(r, reg.families, tmp_path / "lists", language="id")[:2]
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    info = subprocess.run(["pdfinfo", str(tmp_path / f"{xlsx.stem}.pdf")], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    sheets = len(openpyxl.load_workbook(xlsx).sheetnames)
    assert pages == sheets  # every column on the page: nothing spills onto a page of its own
    assert width > height  # landscape


def test_meeting_agenda_puts_each_villages_likeliest_errors_first(batch):
    _, scores = batch
    agenda = meeting_agenda(scores, 5, min_error=0.6)
    assert agenda.family_id.is_unique and not agenda.audit.any()
    assert (agenda.groupby("village_code").size() <= 5).all() and (agenda.error_score >= 0.6).all()
    assert set(agenda.list) == {"inclusion", "exclusion"}
    for village, g in agenda.groupby("village_code"):
        assert g.expected_value_rp.is_monotonic_decreasing and list(g["rank"]) == list(range(1, len(g) + 1))
        pool = scores[(scores.village_code == village) & (scores.error_score >= 0.6)]
        left = pool[~pool.family_id.isin(g.family_id)]
        # full where it can be, and nobody left out is worth more than the last one discussed
        assert len(g) == min(5, len(pool))
        assert (
            np.max((left.error_score * benefit_at_stake(left)).to_numpy(), initial=0)
            <= g.expected_value_rp.min() + 1e-9
        )
    assert (agenda.selection_probability == 1.0).all()
    one = meeting_agenda(scores, 1, min_error=0.6)
    assert one.village_code.is_unique and set(one.family_id) <= set(agenda.family_id)
    with pytest.raises(ValueError, match="per_village"):
        meeting_agenda(scores, 0)


def test_meeting_agenda_breaks_ties_by_family_id(batch):
    _, scores = batch
    tied = scores.assign(error_score=0.9, benefit_rp=1_000_000)
    agenda = meeting_agenda(tied, 3)
    for village, g in agenda.groupby("village_code"):
        assert list(g.family_id) == sorted(tied.family_id[tied.village_code == village])[:3], village


def test_rank_cli_writes_the_village_meeting_lists(batch, tmp_path):
    reg, scores = batch
    scores.to_parquet(tmp_path / "scores.parquet")
    reg.write(tmp_path / "reg")
    args = ["--scores", str(tmp_path / "scores.parquet"), "--families", str(tmp_path / "reg" / "families.parquet")]
    res = CliRunner().invoke(
        app, ["rank", *args, "--budget", "60", "--out", str(tmp_path / "lists"), "--meeting", "--meeting-size", "4"]
    )
    assert res.exit_code == 0, res.output
    assert "musyawarah" in res.output
    books = sorted((tmp_path / "lists" / "meeting").glob("musyawarah_*.xlsx"))
    assert {b.stem.split("_")[1] for b in books} == set(scores.regency_code)
    wb = openpyxl.load_workbook(books[0])
    villages = set(scores[scores.regency_code == books[0].stem.split("_")[1]].village_code)
    assert set(wb.sheetnames) <= villages and wb.sheetnames
    csv = pd.read_csv(books[0].with_suffix(".csv"), encoding="utf-8-sig", dtype=str)
    assert {"Nama kepala keluarga", "Alasan", "Jenis kesalahan"} <= set(csv.columns)
    assert set(csv["Jenis kesalahan"]) <= {"inklusi", "eksklusi"}
    assert csv.groupby("Kode desa").size().max() <= 4


def test_summary_by_hand(batch):
    """Each unit's row: its visits, audit visits and expected finds against as many random visits
    (the unit's mean error score and value among its candidates); a unit the budget missed has 0."""
    _, scores = batch
    ranked = rank_for_verification(scores, 300, audit_share=0.2, seed=2)
    summary = summarize_lists(ranked, scores).set_index(["list", "unit"])
    assert list(summary.columns) == [
        "visits", "audit_visits", "expected_errors_found", "expected_errors_random",
        "rupiah_at_stake", "rupiah_at_stake_random", "gain_vs_random",
    ]  # fmt: skip
    pool = candidates(scores)
    pool = pool.assign(value=pool.error_score * benefit_at_stake(pool))
    for (t, unit), row in summary.iterrows():
        visits = ranked[(ranked.list == t) & (ranked.unit == unit)]
        mine = pool[(pool.error_type == t) & (pool.district_code == unit)]
        assert row.visits == len(visits) and row.audit_visits == visits.audit.sum(), (t, unit)
        assert row.expected_errors_found == pytest.approx(visits.expected_error.sum())
        assert row.rupiah_at_stake == pytest.approx(visits.expected_value_rp.sum())
        assert row.expected_errors_random == pytest.approx(len(visits) * mine.error_score.mean())
        assert row.rupiah_at_stake_random == pytest.approx(len(visits) * mine.value.mean())
        if len(visits):
            assert row.gain_vs_random == pytest.approx(row.expected_errors_found / row.expected_errors_random)
    assert summary.audit_visits.dtype == "int64" and summary.audit_visits.sum() == 60


def test_pps_sample_draws_with_the_probabilities_it_records():
    size = np.array([5.0, 1, 1, 1, 2, 0, 10, 0.5])
    rng = np.random.default_rng(0)
    hits = np.zeros(len(size))
    for _ in range(20_000):
        chosen, pi = pps_sample(size, 3, rng)
        assert len(chosen) == 3 and len(set(chosen)) == 3
        hits[chosen] += 1
    assert pi[6] == 1.0 and pi[5] == 0.0 and np.isclose(pi.sum(), 3)  # the largest is certain
    assert np.allclose(pi[~np.isin(np.arange(8), [5, 6])], size[~np.isin(np.arange(8), [5, 6])] * 2 / 10.5)
    assert np.allclose(hits / 20_000, pi, atol=0.015)


def test_exploration_visits_are_drawn_where_the_model_is_least_sure(batch):
    _, scores = batch
    plain = rank_for_verification(scores, 200, seed=4)
    r = rank_for_verification(scores, 200, seed=4, explore_share=0.2)
    assert len(r) == 200 and r.family_id.is_unique
    assert r.explore.sum() == 40 and r.audit.sum() == plain.audit.sum() == 20 and not (r.explore & r.audit).any()
    ex = r[r.explore]
    p = ex.error_score.to_numpy()
    assert (ex.selection_probability < 1).all()
    # proportional to p (1 - p) within each list: the ratio is one constant per list
    for t, g in ex.groupby("list"):
        ratio = g.selection_probability / (g.error_score * (1 - g.error_score))
        assert np.allclose(ratio, ratio.iloc[0])
    assert abs(p - 0.5).mean() < abs(r.loc[~r.explore & ~r.audit, "error_score"] - 0.5).mean()
    # the ranked visits are the best ones still; the audit's probability covers every family not ranked
    ranked = r[~r.explore & ~r.audit]
    assert set(ranked.family_id) <= set(plain.loc[~plain.audit, "family_id"])
    margins = audit_margins(r, scores).set_index("list")["left_out"]
    pool = candidates(scores).error_type.value_counts()
    assert (margins == pool[margins.index] - ranked.list.value_counts()[margins.index]).all()


def test_exploration_results_stay_out_of_the_ranked_precision(batch):
    reg, scores = batch
    r = rank_for_verification(scores, 200, seed=4, explore_share=0.2)
    truth = reg.truth.set_index("family_id")["eligible"]
    res = pd.DataFrame({"family_id": r.family_id, "result_raw": "x", "language": "en"})
    res["result"] = np.where(r.family_id.map(truth), "eligible", "not eligible")
    est = estimate_errors(r, res)
    ranked = r[~r.explore & ~r.audit]
    assert est["inclusion_ranked_with_result"] == (ranked.list == "inclusion").sum()
    assert est["exclusion_ranked_with_result"] == (ranked.list == "exclusion").sum()
