"""Bad input through the Python API and the CLI: a clear error (exit 2) for unusable files, a quarantine
row for bad values, never a traceback, and every input row scored or quarantined."""

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import REF, write_office_workbook
from pkh_targeting import SchemaError, generate_registry, read_records
from pkh_targeting.cli import app
from pkh_targeting.scoring import read_scores, score_files

runner = CliRunner()


@pytest.fixture(scope="module")
def base():
    reg = generate_registry(60, seed=3, regions_seed=0, reference_date=REF)
    return reg.families.astype("string"), reg.members.astype("string")


@pytest.fixture(scope="module")
def model_dir(fitted_model, tmp_path_factory):
    return fitted_model.save(tmp_path_factory.mktemp("model") / "model")


def check_every_row_scored_or_quarantined(fam_path, mem_path, out):
    """Each input row is in the quarantine, or belongs to a scored family; never both, never neither."""
    fam, mem = read_records(fam_path, mem_path)
    scored = set(read_scores(out / "scores.parquet").family_id)
    q = pd.read_csv(out / "quarantine.csv", dtype={"row": "int64"}, keep_default_na=False)
    for table, df in (("families", fam), ("members", mem)):
        quarantined = np.isin(np.arange(len(df)), q.loc[q.table == table, "row"].to_numpy())
        in_scored = df["family_id"].astype("string").str.strip().isin(scored).fillna(False).to_numpy()
        assert (quarantined ^ in_scored).all(), f"{table}: rows lost or counted twice"
    return q


def _write(tmp, fam, mem, fmt="csv"):
    f, m = tmp / f"families.{fmt}", tmp / f"members.{fmt}"
    fam.to_csv(f, index=False)
    mem.to_csv(m, index=False)
    return f, m


def _score_both_ways(fitted_model, model_dir, f, m, tmp, reference_date="2025-07-01"):
    """Score through the API and the CLI; return (API exception or None, CLI result)."""
    try:
        score_files(fitted_model, f, m, tmp / "api", reference_date=pd.Timestamp(reference_date).date())
        error = None
    except (SchemaError, ValueError) as exc:
        error = exc
    res = runner.invoke(
        app,
        ["score", "--model", str(model_dir), "--families", str(f), "--members", str(m), "--out", str(tmp / "cli"),
         "--no-tracking", "--reference-date", reference_date],
    )  # fmt: skip
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    return error, res


# ------------------------------------------------------------------------------ unusable input
def _empty(tmp, fam, mem):
    f, m = _write(tmp, fam, mem)
    f.write_text("")
    return f, m


def _duplicated_header(tmp, fam, mem):
    return _write(tmp, fam.assign(urban2=fam["urban"]).rename(columns={"urban2": "urban"}), mem)


def _missing_column(tmp, fam, mem):
    return _write(tmp, fam.drop(columns="floor_material"), mem)


def _members_of_other_families(tmp, fam, mem):
    return _write(tmp, fam, mem.assign(family_id="X" + mem["family_id"]))


def _swapped_files(tmp, fam, mem):
    f, m = _write(tmp, fam, mem)
    return m, f


def _ambiguous_sheets(tmp, fam, mem):
    path = tmp / "export.xlsx"
    with pd.ExcelWriter(path) as xl:
        fam.to_excel(xl, sheet_name="Sheet1", index=False)
        mem.to_excel(xl, sheet_name="Sheet2", index=False)
    return path, path


def _not_a_table(tmp, fam, mem):
    f, m = _write(tmp, fam, mem)
    f.write_bytes(b"\x00\x01PK\x03\x04 binary junk \xff\xfe" * 100)
    return f, m


def _corrupt_parquet(tmp, fam, mem):
    f, m = tmp / "families.parquet", tmp / "members.parquet"
    mem.to_parquet(m)
    f.write_bytes(b"PAR1 truncated export PAR1")
    return f, m


UNUSABLE = {
    "corrupt parquet": (_corrupt_parquet, "cannot read"),
    "empty file": (_empty, "empty"),
    "duplicated headers": (_duplicated_header, "duplicated"),
    "missing column": (_missing_column, "floor_material"),
    "members of other families": (_members_of_other_families, "none of the"),
    "files swapped": (_swapped_files, "members table"),
    "several unnamed sheets": (_ambiguous_sheets, "several sheets"),
    "binary junk": (_not_a_table, "families"),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_input_is_a_clear_error_and_exit_2(case, base, fitted_model, model_dir, tmp_path):
    make, words = UNUSABLE[case]
    f, m = make(tmp_path, *base)
    error, res = _score_both_ways(fitted_model, model_dir, f, m, tmp_path)
    assert isinstance(error, SchemaError) and words in str(error)
    assert res.exit_code == 2 and words in res.stderr and "error:" in res.stderr
    assert not (tmp_path / "cli" / "scores.parquet").exists()


def test_reference_date_in_the_future_is_refused(base, fitted_model, model_dir, tmp_path):
    f, m = _write(tmp_path, *base)
    error, res = _score_both_ways(fitted_model, model_dir, f, m, tmp_path, reference_date="2099-01-01")
    assert "in the future" in str(error) and res.exit_code == 2 and "in the future" in res.stderr
    _, res = _score_both_ways(fitted_model, model_dir, f, m, tmp_path, reference_date="2025-13-45")
    assert res.exit_code == 2 and "month must be in 1..12" in res.stderr


# ---------------------------------------------------------------------------- usable, messy input
def _set(df, row, column, value):
    df = df.copy()
    df[column] = df[column].astype(object)
    df.loc[row, column] = value
    return df


def _member_of(fam, mem, row):
    return int(np.flatnonzero((mem["family_id"] == fam["family_id"].iloc[row]).to_numpy())[0])


MESSY = {
    # case: (families, members) -> (families, members), rules expected in the quarantine
    "wrong types": (lambda f, m: (_set(f, 1, "floor_area_m2", "empat puluh"), m), {"dtype"}),
    "unknown codes": (lambda f, m: (_set(f, 2, "floor_material", "99"), m), {"codes"}),
    "10,000-character strings": (
        lambda f, m: (_set(_set(f, 3, "floor_material", "9" * 10_000), 4, "head_name", "A" * 10_000), m),
        {"dtype"},
    ),
    "NaN and inf": (
        lambda f, m: (_set(_set(f, 5, "floor_area_m2", "inf"), 6, "floor_area_m2", "NaN"), m),
        {"range", "not_null"},
    ),
    "negative counts": (lambda f, m: (_set(_set(f, 7, "n_goat", "-5"), 8, "n_members", "-1"), m), {"range"}),
    "birth date in the future": (
        lambda f, m: (f, _set(m, _member_of(f, m, 9), "nik", m["nik"].iloc[_member_of(f, m, 9)][:10] + "300001")),
        {"nik_age"},
    ),
    "extra columns": (lambda f, m: (f.assign(catatan="dicek RT"), m.assign(catatan="x")), set()),
    "missing optional outcome columns": (
        lambda f, m: (f.drop(columns=["verified_eligible", "consumption_per_capita"]), m),
        set(),
    ),
    "header only": (lambda f, m: (f.iloc[:0], m.iloc[:0]), set()),
}


@pytest.mark.parametrize("case", list(MESSY))
def test_messy_values_are_quarantined_and_nothing_is_lost(case, base, fitted_model, model_dir, tmp_path):
    change, rules = MESSY[case]
    f, m = _write(tmp_path, *change(*base))
    error, res = _score_both_ways(fitted_model, model_dir, f, m, tmp_path)
    assert error is None and res.exit_code == 0, res.output
    for out in ("api", "cli"):
        q = check_every_row_scored_or_quarantined(f, m, tmp_path / out)
        assert rules <= set(q.rule)
        assert q["value"].str.len().max() <= 100 if len(q) else True  # long values are cut


def test_non_utf8_bytes_are_read_with_a_warning(base, fitted_model, model_dir, tmp_path):
    fam, mem = base
    fam = _set(fam, 0, "address", "Jl. Peñasco No. 5 – Gang Ærø")
    f, m = tmp_path / "families.csv", tmp_path / "members.csv"
    fam.to_csv(f, index=False, encoding="cp1252")
    mem.to_csv(m, index=False)
    with open(f, "ab") as fh:  # a byte that no Windows code page defines: read as Latin-1
        fh.write(
            fam.iloc[[1]]
            .assign(family_id="KK-LATIN1", address="x\x81y")
            .to_csv(index=False, header=False)
            .encode("latin-1")
        )
    error, res = _score_both_ways(fitted_model, model_dir, f, m, tmp_path)
    assert error is None and res.exit_code == 0 and "not UTF-8" in res.stderr
    check_every_row_scored_or_quarantined(f, m, tmp_path / "cli")


def test_excel_formulas_merged_cells_and_named_sheets(base, fitted_model, model_dir, tmp_path):
    fam, mem = base
    path = write_office_workbook(tmp_path / "export.xlsx", fam, mem)
    wb = openpyxl.load_workbook(path)
    ws = wb["Keluarga"]
    names = [c.value for c in ws[1]]
    ws.cell(2, names.index("head_name") + 1, '=HYPERLINK("http://evil.example","klik")')
    ws.cell(3, names.index("floor_area_m2") + 1, "=10*10")
    ws.merge_cells(
        start_row=4,
        start_column=names.index("province_code") + 1,
        end_row=5,
        end_column=names.index("province_code") + 1,
    )
    wb.save(path)
    error, res = _score_both_ways(fitted_model, model_dir, path, path, tmp_path)
    assert error is None and res.exit_code == 0, res.output
    q = check_every_row_scored_or_quarantined(path, path, tmp_path / "cli")
    # formulas are never evaluated (no cached result: missing); the merged-away cell is missing.
    # Excel row 3 is data row 1 and row 5 data row 3 (row 1 is the header)
    found = set(zip(q.loc[q.table == "families", "row"], q.loc[q.table == "families", "column"]))
    assert {(1, "floor_area_m2"), (3, "province_code")} <= found, found
    assert "evil" not in read_scores(tmp_path / "cli" / "scores.parquet").to_string()


CELLS = st.one_of(
    st.text(max_size=30),
    st.text(min_size=5_000, max_size=10_000, alphabet="9a =+-"),
    st.sampled_from(["inf", "-inf", "NaN", "", " ", "-1", "1e308", "0x1F", "=1+1", "None", "null", "ä", "\t"]),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_cells_never_lose_a_row(data, base, fitted_model, tmp_path_factory):
    fam, mem = base
    for _ in range(data.draw(st.integers(1, 6))):
        table = data.draw(st.sampled_from(["families", "members"]))
        df = fam if table == "families" else mem
        row = data.draw(st.integers(0, len(df) - 1))
        column = data.draw(st.sampled_from([c for c in df.columns if c != "family_id"]))
        df = _set(df, row, column, data.draw(CELLS))
        fam, mem = (df, mem) if table == "families" else (fam, df)
    tmp = tmp_path_factory.mktemp("random")
    f, m = _write(tmp, fam, mem)
    score_files(fitted_model, f, m, tmp / "out", reference_date=REF)
    check_every_row_scored_or_quarantined(f, m, tmp / "out")
