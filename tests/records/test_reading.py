import gc
import warnings
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from conftest import REF, write_office_workbook
from pkh_targeting import SchemaError, read_records, read_table, validate_records

SHARED = Path(__file__).resolve().parents[3] / "shared" / "contract"
PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pkh_targeting" / "contract"


@pytest.mark.parametrize("name", ["household_records.yaml", "scores.yaml", "evidence.yaml"])
def test_package_contract_equals_shared(name):
    if not (SHARED / name).exists():
        pytest.skip("../shared is not beside this checkout")
    assert (PACKAGE / name).read_bytes() == (SHARED / name).read_bytes()


def test_the_evidence_contract_is_read_by_the_one_reader():
    from pkh_targeting.records.contract import evidence_contract

    tables = evidence_contract()
    assert set(tables) == {"registry_records", "community_reports"}
    assert tables["registry_records"].key == ("source", "record_id")
    assert "civil_servant" in tables["registry_records"].columns["source"].codes


def _roundtrip(reg, tmp_path, fmt):
    fam, mem = reg.families, reg.members
    if fmt == "csv":
        fam.to_csv(tmp_path / "f.csv", index=False)
        mem.to_csv(tmp_path / "m.csv", index=False)
    elif fmt == "parquet":
        fam.to_parquet(tmp_path / "f.parquet")
        mem.to_parquet(tmp_path / "m.parquet")
    else:
        fam.to_excel(tmp_path / "f.xlsx", index=False)
        mem.to_excel(tmp_path / "m.xlsx", index=False)
    return read_records(tmp_path / f"f.{fmt}", tmp_path / f"m.{fmt}")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_round_trip(fmt, small_registry, tmp_path):
    fam, mem = _roundtrip(small_registry, tmp_path, fmt)
    res = validate_records(fam, mem, reference_date=small_registry.reference_date)
    assert res.quarantine.empty
    pd.testing.assert_frame_equal(
        res.families.reset_index(drop=True),
        validate_records(small_registry.families, small_registry.members, reference_date=REF).families.reset_index(
            drop=True
        ),
        check_dtype=True,
    )
    assert len(res.members) == len(small_registry.members)


def test_excel_picks_sheet_by_name_and_reads_cached_formulas(family, tmp_path):
    fam, mem = family
    path = write_office_workbook(tmp_path / "export.xlsx", fam, mem)
    wb = openpyxl.load_workbook(path)
    wb["Keluarga"]["AZ1"] = "total"
    wb["Keluarga"]["AZ2"] = "=1+1"  # a formula: read as its cached value (none), never evaluated
    wb.save(path)
    f, m = read_records(path, path)
    assert len(f) == 1 and len(m) == 3
    assert validate_records(f, m, reference_date=REF).quarantine.empty


def test_excel_with_ambiguous_sheets_is_a_schema_error(family, tmp_path):
    path = tmp_path / "two.xlsx"
    with pd.ExcelWriter(path) as xw:
        family[0].to_excel(xw, sheet_name="A", index=False)
        family[0].to_excel(xw, sheet_name="B", index=False)
    with pytest.raises(SchemaError, match="several sheets"):
        read_table(path, "families")
    with pytest.raises(SchemaError, match="no sheet 'C'"):
        read_table(path, "families", sheet="C")


def test_empty_and_header_only_files(family, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SchemaError, match="empty"):
        read_table(tmp_path / "empty.csv", "families")
    family[0].iloc[:0].to_csv(tmp_path / "header.csv", index=False)
    family[1].iloc[:0].to_csv(tmp_path / "mheader.csv", index=False)
    res = validate_records(*read_records(tmp_path / "header.csv", tmp_path / "mheader.csv"))
    assert len(res.families) == 0 and res.quarantine.empty


def test_duplicated_header_is_a_schema_error(family, tmp_path):
    path = tmp_path / "dup.csv"
    fam = family[0]
    text = fam.to_csv(index=False).splitlines()
    text[0] = text[0] + ",urban"
    text[1] = text[1] + ",True"
    path.write_text("\n".join(text))
    with pytest.raises(SchemaError, match="duplicated header"):
        read_table(path, "families")


def test_windows_1252_csv_is_read(family, tmp_path):
    fam = family[0].assign(head_name="Budi Santoso é")
    path = tmp_path / "cp.csv"
    path.write_bytes(fam.to_csv(index=False).encode("cp1252"))
    with pytest.warns(UserWarning, match="not UTF-8"):
        out = read_table(path, "families")
    assert out.head_name.iloc[0].endswith("é")


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SchemaError, match="unknown format"):
        read_table(tmp_path / "x.json", "families")
    with pytest.raises(SchemaError, match="no such file"):
        read_table(tmp_path / "nope.csv", "families")


def test_corrupt_parquet_is_a_schema_error(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(SchemaError, match="cannot read"):
        read_table(tmp_path / "bad.parquet", "families")


def test_reading_excel_leaves_no_file_open(small_registry, tmp_path):
    path = tmp_path / "keluarga.xlsx"
    small_registry.families.head(20).to_excel(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(read_table(path, "families")) == 20
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
