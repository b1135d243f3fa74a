import json
import shutil
import warnings

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from pkh_targeting.cli import app
from pkh_targeting.modeling import candidates
from pkh_targeting.verification import (
    HEADERS,
    estimate_errors,
    outcomes_for_retraining,
    rank_for_verification,
    read_feedback,
    read_results,
    write_field_lists,
)


def _fill(paths, truth, *, bad_every=None):
    """Play the field team: write each visited family's true status into the returned workbooks."""
    eligible = truth.set_index("family_id").eligible
    filled = []
    for i, path in enumerate(p for p in paths if p.suffix == ".xlsx"):
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            header = [c.value for c in ws[5]]
            fid, res = header.index("ID keluarga") + 1, header.index("Hasil kunjungan") + 1
            for n, row in enumerate(ws.iter_rows(min_row=6)):
                family = row[fid - 1].value
                value = "layak" if eligible[family] else "tidak layak"  # the codes of an Indonesian sheet
                if bad_every and n % bad_every == 0:
                    value = "mungkin"
                elif n % 17 == 5:
                    value = "pindah"
                ws.cell(row=row[0].row, column=res, value=value)
        out = path.with_name(f"returned_{i}.xlsx")
        wb.save(out)
        filled.append(out)
    return filled


def _scored(reg):
    """Scores of a registry: its truth seen through noise."""
    from pkh_targeting import apply_rules

    comps = apply_rules(reg.families, reg.members)
    truth = reg.truth
    rng = np.random.default_rng(1)
    p = (
        np.clip(truth.eligible.to_numpy() * 0.5 + rng.uniform(0, 0.5, len(truth)), 0, 1)
        * comps.has_component.to_numpy()
    )
    fam = reg.families
    return pd.DataFrame(
        {
            **{
                c: fam[c].to_numpy()
                for c in ("family_id", "province_code", "regency_code", "district_code", "village_code")
            },
            "receives_pkh": fam.receives_pkh.to_numpy(),
            "n_components": comps.n_components.to_numpy(),
            "benefit_rp": comps.benefit_rp.to_numpy(),
            "p_eligible": p,
            "error_type": np.where(fam.receives_pkh, "inclusion", "exclusion"),
            "error_score": np.where(fam.receives_pkh, 1 - p, p),
            "reasons": None,
            "model_version": "m/1",
            "rules_version": "pkh-2025",
        }
    )


@pytest.fixture(scope="module")
def registry():
    from conftest import REF
    from pkh_targeting import generate_registry

    return generate_registry(4_000, seed=71, reference_date=REF)


@pytest.fixture(scope="module")
def field(registry, tmp_path_factory):
    reg, fam = registry, registry.families
    scores = _scored(reg)
    ranked = rank_for_verification(scores, 1600, audit_share=0.6, seed=3)
    folder = tmp_path_factory.mktemp("lists")
    paths = write_field_lists(ranked, fam, folder / "field")
    ranked.to_parquet(folder / "ranked.parquet")
    return reg, ranked, paths, folder


def test_precision_and_horvitz_thompson_estimates(field):
    reg, ranked, paths, _ = field
    results = pd.concat([read_results(p) for p in _fill(paths, reg.truth)], ignore_index=True)
    est = estimate_errors(ranked, results, n_boot=300)
    truth = reg.truth.set_index("family_id")
    r = ranked.merge(results, on="family_id")
    ok = ~r.result.isin(["moved"])
    incl = r[(r.list == "inclusion") & ~r.audit & ok]
    assert est["inclusion_precision_ranked"] == pytest.approx((~truth.eligible[incl.family_id]).mean())
    true_leak = truth.inclusion_error.sum() / truth.receives_pkh.sum()
    true_under = truth.exclusion_error.sum() / truth.eligible.sum()
    assert est["leakage_low"] <= true_leak <= est["leakage_high"]
    assert est["undercoverage_low"] <= true_under <= est["undercoverage_high"]
    assert est["not_found_or_moved"] > 0 and est["bad_results"] == 0
    out = outcomes_for_retraining(results)
    assert out.verified_eligible.dtype == bool and set(out.family_id) <= set(ranked.family_id)


def test_horvitz_thompson_is_unbiased_and_covers_at_a_realistic_audit(registry):
    """400 visits, 10% of them audit (20 per list), over 100 audit draws: the estimates centre on
    the truth and their 95% intervals cover it. The families each list draws from are estimated
    exactly, and their errors within 5%: a selection probability off by any factor fails."""
    truth = registry.truth.set_index("family_id")
    scores = _scored(registry)
    true = {
        "leakage": truth.inclusion_error.sum() / truth.receives_pkh.sum(),
        "undercoverage": truth.exclusion_error.sum() / truth.eligible.sum(),
    }
    pool = candidates(scores).error_type.value_counts()
    errors = {"inclusion": truth.inclusion_error.sum(), "exclusion": truth.exclusion_error.sum()}
    est = []
    for seed in range(100):
        ranked = rank_for_verification(scores, 400, audit_share=0.1, seed=seed)
        assert ranked.audit.sum() == 40
        eligible = truth.eligible[ranked.family_id].to_numpy()
        results = pd.DataFrame(
            {"family_id": ranked.family_id, "result": np.where(eligible, "eligible", "not eligible")}
        )
        est.append(estimate_errors(ranked, results.assign(result_raw="x"), n_boot=400, seed=seed))
        assert est[-1]["families_estimated"] == pytest.approx(pool.to_dict())
    for t, value in errors.items():
        assert np.mean([x["errors_estimated"][t] for x in est]) == pytest.approx(value, rel=0.05), t
    for rate, value in true.items():
        e = np.array([x[rate] for x in est])
        covered = np.mean([x[f"{rate}_low"] <= value <= x[f"{rate}_high"] for x in est])
        assert abs(e.mean() - value) < 0.02 and covered >= 0.85, (rate, e.mean(), value, covered)


def test_the_exclusion_audit_skips_families_without_a_component(registry):
    """A non-beneficiary without a PKH component cannot be eligible: no visit is spent on one."""
    scores = _scored(registry)
    ranked = rank_for_verification(scores, 3_000, audit_share=0.5, seed=0)
    listed = scores.set_index("family_id").loc[ranked.family_id]
    assert (listed.n_components[~listed.receives_pkh] > 0).all()
    pool = ((scores.error_type == "exclusion") & (scores.n_components > 0)).sum()
    excl = ranked[ranked.list == "exclusion"]
    assert len(excl) <= pool and excl.selection_probability.max() <= 1


def test_cli_reports_bad_values_instead_of_guessing(field):
    reg, _, paths, folder = field
    returned = _fill(paths, reg.truth, bad_every=9)
    res = CliRunner().invoke(
        app, ["feedback", "--lists", str(folder), *sum((["--results", str(p)] for p in returned), [])]
    )
    assert res.exit_code == 0, res.output
    bad = pd.read_csv(folder / "bad_results.csv", encoding="utf-8-sig")
    assert len(bad) > 0 and (bad.result_raw == "mungkin").all()
    outcomes = pd.read_csv(folder / "verified_outcomes.csv", encoding="utf-8-sig")
    assert not set(outcomes.family_id) & set(bad.family_id)
    assert (folder / "feedback.json").exists()


def _refuse(constant):
    raise ValueError(f"not JSON: {constant}")


def test_cli_reads_folders_and_files_after_one_option(field, tmp_path):
    reg, ranked, paths, folder = field
    returned = tmp_path / "returned"
    returned.mkdir()
    files = [shutil.move(p, returned / p.name) for p in _fill(paths, reg.truth, bad_every=9)]
    runner = CliRunner()
    by_folder = runner.invoke(
        app, ["feedback", "--lists", str(folder), "--results", str(returned), "--out", str(tmp_path / "a")]
    )
    by_files = runner.invoke(
        app, ["feedback", "--lists", str(folder), "--results", *map(str, files), "--out", str(tmp_path / "b")]
    )
    assert by_folder.exit_code == 0 and by_files.exit_code == 0, by_folder.output + by_files.output
    est = json.loads((tmp_path / "a" / "feedback.json").read_text(), parse_constant=_refuse)
    assert est == json.loads((tmp_path / "b" / "feedback.json").read_text())
    results = pd.concat([read_results(p) for p in files], ignore_index=True)
    expected = estimate_errors(ranked, results)
    # every figure feedback.json gives is estimate_errors' on the same results
    assert set(expected) <= set(est)
    for key, value in expected.items():
        assert est[key] == (pytest.approx(value) if isinstance(value, float) else value), key
    assert "use: layak, tidak layak, tidak ditemukan, pindah" in by_folder.output  # the sheet's own codes


def test_no_audit_results_yet_is_said_plainly(field, tmp_path):
    reg, ranked, paths, folder = field
    results = pd.concat([read_results(p) for p in _fill(paths, reg.truth)], ignore_index=True)
    ranked_only = results[results.family_id.isin(ranked.family_id[~ranked.audit])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning of an all-NaN slice
        est = estimate_errors(ranked, ranked_only, n_boot=50)
    assert est["leakage"] is None and est["undercoverage_high"] is None
    assert est["audit_with_result"] == {"inclusion": 0, "exclusion": 0} and sum(est["audit_drawn"].values()) > 0
    ranked_only.assign(**{"ID keluarga": ranked_only.family_id, "Hasil kunjungan": ranked_only.result_raw})[
        ["ID keluarga", "Hasil kunjungan"]
    ].to_csv(tmp_path / "back.csv", index=False)
    res = CliRunner().invoke(
        app, ["feedback", "--lists", str(folder), "--results", str(tmp_path / "back.csv"), "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert "0 of" in res.output and "audit visits have a result" in res.output and "nan" not in res.output
    assert json.loads((tmp_path / "feedback.json").read_text(), parse_constant=_refuse)["leakage"] is None


def test_estimate_errors_by_hand():
    """Three ranked and two audit beneficiaries (1 in 10 drawn), two ranked and four audit others
    (1 in 5): the counts, precisions, Horvitz-Thompson totals and the Jeffreys interval by hand."""
    from scipy.stats import beta

    ids = ["I1", "I2", "I3", "IA1", "IA2", "E1", "E2", "EA1", "EA2", "EA3", "EA4"]
    ranked = pd.DataFrame(
        {
            "family_id": ids,
            "list": ["inclusion"] * 5 + ["exclusion"] * 6,
            "audit": [False] * 3 + [True] * 2 + [False] * 2 + [True] * 4,
            "selection_probability": [1.0] * 3 + [0.1] * 2 + [1.0] * 2 + [0.2] * 4,
        }
    )
    results = pd.DataFrame(
        {
            "family_id": ["I1", "I2", "I3", "IA1", "IA2", "E1", "E2", "EA1", "EA2", "EA3", "I1"],
            "result": ["eligible", "eligible", "moved", "not eligible", "eligible", "eligible", "not found",
                       "eligible", "not eligible", "not eligible", "not eligible"],
        }
    )  # fmt: skip
    results = results.assign(result_raw=results["result"])  # as read from the field lists
    est = estimate_errors(ranked, results, n_boot=20_000)
    assert (est["visited"], est["visited_twice"], est["not_found_or_moved"], est["bad_results"]) == (10, 1, 2, 0)
    # I1's latest visit found it not eligible: an inclusion error
    assert est["inclusion_precision_ranked"] == 0.5 and est["inclusion_ranked_with_result"] == 2
    assert est["exclusion_precision_ranked"] == 1.0 and est["exclusion_ranked_with_result"] == 1
    assert est["audit_with_result"] == {"inclusion": 2, "exclusion": 3}
    assert est["audit_drawn"] == {"inclusion": 2, "exclusion": 4}
    # 2 / 0.1 = 20 beneficiaries and 4 / 0.2 = 20 others not ranked, with the audit's error shares 1/2 and 1/3
    assert est["families_estimated"] == pytest.approx({"inclusion": 22, "exclusion": 21})
    assert est["errors_estimated"] == pytest.approx({"inclusion": 1 + 20 / 2, "exclusion": 1 + 20 / 3})
    assert est["leakage"] == pytest.approx(11 / 22)
    assert est["undercoverage"] == pytest.approx((1 + 20 / 3) / (22 - 11 + 1 + 20 / 3))
    # leakage = (1 + 20 s) / 22 with s ~ Beta(1 + 1/2, 1 + 1/2)
    low, high = ((1 + 20 * beta.ppf(q, 1.5, 1.5)) / 22 for q in (0.025, 0.975))
    assert est["leakage_low"] == pytest.approx(low, abs=0.01) and est["leakage_high"] == pytest.approx(high, abs=0.01)
    assert est["undercoverage_low"] < est["undercoverage"] < est["undercoverage_high"]
    # the others' audit drawn but none returned: no estimate, every figure there as None
    none = estimate_errors(ranked, results[~results.family_id.str.startswith("EA")], n_boot=10)
    keys = [f"{k}{s}" for k in ("leakage", "undercoverage") for s in ("", "_low", "_high")]
    assert all(none[k] is None for k in [*keys, "errors_estimated", "families_estimated"])
    assert none["visited"] == 7
    # no audit sample of the others and no ranked result there: nothing estimated beyond the beneficiaries
    only = estimate_errors(
        ranked[~ranked.family_id.str.startswith("EA")], results[~results.family_id.isin(["E1", "EA1", "EA2", "EA3"])]
    )
    assert only["exclusion_precision_ranked"] is None and only["leakage"] == pytest.approx(0.5)
    assert only["families_estimated"] == {"inclusion": 22.0, "exclusion": 0.0} and only["undercoverage"] == 0.0


def _lists_folder(tmp_path, fids):
    ranked = pd.DataFrame({"family_id": fids, "list": "inclusion", "audit": False, "explore": False,
                           "selection_probability": 1.0})  # fmt: skip
    (tmp_path / "lists").mkdir()
    ranked.to_parquet(tmp_path / "lists" / "ranked.parquet")
    return tmp_path / "lists"


def test_csv_as_excel_saves_it_anywhere_is_read(tmp_path):
    h = HEADERS["id"]
    df = pd.DataFrame({h["family_id"]: ["F1", "F2"], "Nama kepala keluarga": ["Bâmbang", "Sîti"],
                       h["result"]: ["layak", "tidak layak"]})  # fmt: skip
    for name, sep, encoding in (("semi.csv", ";", "cp1252"), ("tab.csv", "\t", "utf-8"), ("comma.csv", ",", "cp1252")):
        df.to_csv(tmp_path / name, sep=sep, index=False, encoding=encoding)
        got = read_results(tmp_path / name)
        assert got["family_id"].tolist() == ["F1", "F2"], name
        assert got["result"].tolist() == ["eligible", "not eligible"], name


def test_an_unreadable_file_is_named_and_the_others_are_read(tmp_path):
    lists = _lists_folder(tmp_path, ["F1", "F2"])
    h = HEADERS["id"]
    pd.DataFrame({h["family_id"]: ["F1", "F2"], h["result"]: ["tidak layak", "layak"]}).to_csv(
        tmp_path / "good.csv", sep=";", index=False
    )
    (tmp_path / "broken.xlsx").write_bytes(b"not a workbook")
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "no_header.csv", index=False)
    est, _ = read_feedback(lists, [tmp_path / "good.csv", tmp_path / "broken.xlsx", tmp_path / "no_header.csv"])
    skipped = sorted(u["file"] for u in est["unreadable"])
    assert skipped == [str(tmp_path / "broken.xlsx"), str(tmp_path / "no_header.csv")]
    assert est["visited"] == 2 and est["inclusion_precision_ranked"] == 0.5
    outcomes = pd.read_csv(lists / "verified_outcomes.csv", encoding="utf-8-sig")
    assert outcomes["family_id"].tolist() == ["F1", "F2"]
    res = CliRunner().invoke(app, ["feedback", "--lists", str(lists), "--results", str(tmp_path / "good.csv"),
                                   str(tmp_path / "broken.xlsx")])  # fmt: skip
    assert res.exit_code == 1 and "broken.xlsx was not read" in " ".join(res.output.split())
    assert "visited" in res.output  # the good file was read and reported
