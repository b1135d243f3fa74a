"""Field-ready exports: verification lists (Excel per regency, CSV) and public lists for uji publik."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ..outputs import atomic_path, neutralize_formulas, write_csv
from ..privacy import mask_nik

# fixed column order; headers from one mapping. No score and no audit mark: a random audit estimates
# error rates only if its visits are done like the others, and a score anchors what a team records
# (the coordinator's ranked.parquet and audit.csv keep both)
FIELD_COLUMNS = [
    "rank",
    "family_id",
    "head_name",
    "address",
    "village_code",
    "receives_pkh",
    "list",
    "benefit_at_stake_rp",
    "reasons",
    "evidence",
    "report_ids",
    "result",
    "notes",
]
# what the visit needs from the families table, besides the scores
VISIT_COLUMNS = ["family_id", "head_name", "address"]
HEADERS = {
    "id": {
        "rank": "No",
        "family_id": "ID keluarga",
        "head_name": "Nama kepala keluarga",
        "address": "Alamat",
        "village_code": "Kode desa",
        "receives_pkh": "Status penerima PKH",
        "list": "Jenis kesalahan",
        "benefit_at_stake_rp": "Bantuan per tahun (Rp)",
        "reasons": "Alasan",
        "evidence": "Data instansi lain",
        "report_ids": "Laporan warga",
        "result": "Hasil kunjungan",
        "notes": "Catatan",
    },
    "en": {
        "rank": "Rank",
        "family_id": "Family ID",
        "head_name": "Head of family",
        "address": "Address",
        "village_code": "Village code",
        "receives_pkh": "PKH beneficiary",
        "list": "Error type",
        "benefit_at_stake_rp": "Yearly benefit (Rp)",
        "reasons": "Reasons",
        "evidence": "Other registries",
        "report_ids": "Community reports",
        "result": "Visit result",
        "notes": "Notes",
    },
}
VALUES = {
    "id": {True: "Ya", False: "Tidak", "inclusion": "inklusi", "exclusion": "eksklusi"},
    "en": {True: "yes", False: "no", "inclusion": "inclusion", "exclusion": "exclusion"},
}
# the result codes a field team writes, in the sheet's language (canonical results: the English ones)
RESULT_CODES = {
    "id": ("layak", "tidak layak", "tidak ditemukan", "pindah"),
    "en": ("eligible", "not eligible", "not found", "moved"),
}
# a village meeting's sheet: read aloud in public, so no other agency's record (the coordinator's lists
# keep them) and no amount; the meeting's decisions, which `pkh-targeting cases decide` reads back
MEETING_COLUMNS = [c for c in FIELD_COLUMNS if c not in ("evidence", "benefit_at_stake_rp")]
MEETING_DECISION = {"id": "Keputusan musyawarah", "en": "Meeting decision"}
MEETING_CODES = {"id": ("tetap", "keluarkan", "usulkan", "tunda"), "en": ("keep", "remove", "add", "defer")}
_MEETING_NOTE = {
    "id": "Daftar untuk musyawarah desa/kelurahan: keluarga yang dibahas lebih dulu. Memuat nama dan alamat: "
    "jangan disebarkan. Isi kolom Keputusan musyawarah dengan: {codes}.",
    "en": "For the village meeting: the families to discuss first. It carries names and addresses: do not share. "
    "Fill the Meeting decision column with: {codes}.",
}
_NOTE = {
    "id": "Daftar ini memuat nama dan alamat untuk kunjungan lapangan: data pribadi, jangan disebarkan. "
    "Isi kolom Hasil kunjungan dengan: {codes}.",
    "en": "This list carries names and addresses for the field visit: personal data, do not share. "
    "Fill the Visit result column with: {codes}.",
}


def field_table(ranked: pd.DataFrame, families: pd.DataFrame, *, language: str = "id") -> pd.DataFrame:
    """The visit list in its fixed column order and language: ranked rows plus the name and
    address the visit needs, blank result and notes columns; nothing else personal."""
    if language not in HEADERS:
        raise ValueError(f"language must be 'id' or 'en', got {language!r}.")
    who = families[VISIT_COLUMNS].drop_duplicates("family_id")
    t = ranked.merge(who, on="family_id", how="left", validate="many_to_one")
    t["receives_pkh"] = t["receives_pkh"].map(VALUES[language])
    t["list"] = t["list"].map(VALUES[language])
    for col in ("evidence", "report_ids"):  # present when the batch came with them
        t[col] = t[col].fillna("") if col in t else ""
    t["result"] = ""
    t["notes"] = ""
    return t[FIELD_COLUMNS + ["district_code", "regency_code"]]


def write_field_lists(
    ranked: pd.DataFrame,
    families: pd.DataFrame,
    out_dir,
    *,
    language: str = "id",
    date: dt.date | None = None,
    meeting: bool = False,
) -> list[Path]:
    """One Excel workbook per regency (a sheet per district and list) and one CSV (``utf-8-sig``) per regency.

    ``meeting``: the lists are a `meeting_agenda`, one sheet per village with both lists
    (``musyawarah_<regency>.xlsx``), without other agencies' records or amounts (read in public), and a
    column for the meeting's decision (tetap, keluarkan, usulkan, tunda) that ``cases decide`` reads.

    The visits of a sheet are in route order (village, then family ID) and carry no score and no
    audit mark, so that the random audit is visited as the others are (the coordinator's ranked
    table keeps both). Each sheet starts with the model and rules version, the date and a personal-data note with the
    result codes in the sheet's language (a drop-down in the result column); it prints landscape, one
    page wide, with the header row on every page. Cells a spreadsheet would run as formulas are
    neutralised.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    date = date or dt.date.today()
    table = field_table(ranked, families, language=language)
    if not meeting:  # in route order, village by village: where a family stands on the list tells nothing
        table = table.sort_values(["district_code", "list", "village_code", "family_id"], kind="stable")
        table["rank"] = table.groupby(["district_code", "list"]).cumcount() + 1
    columns, codes = (MEETING_COLUMNS, MEETING_CODES) if meeting else (FIELD_COLUMNS, RESULT_CODES)
    heads = {**HEADERS[language], "result": MEETING_DECISION[language]} if meeting else HEADERS[language]
    versions = ranked[["model_version", "rules_version"]].drop_duplicates().astype(str).agg(" / ".join, axis=1)
    header = [
        f"{'model / aturan' if language == 'id' else 'model / rules'}: {', '.join(versions)}",
        f"{'tanggal' if language == 'id' else 'date'}: {date.isoformat()}",
        (_MEETING_NOTE if meeting else _NOTE)[language].format(codes=", ".join(codes[language])),
    ]
    paths = []
    prefix = "musyawarah" if meeting else "verifikasi"
    for regency, reg in table.groupby("regency_code", sort=True):
        body = neutralize_formulas(reg[columns]).rename(columns=heads)
        wb = Workbook()
        wb.remove(wb.active)
        if meeting:
            sheets = body.groupby(reg["village_code"].to_numpy(), sort=True)
        else:
            keys = zip(reg["district_code"].to_numpy(), reg["list"].to_numpy())
            sheets = body.groupby(pd.MultiIndex.from_tuples(list(keys)), sort=True)
        for name, d in sheets:
            ws = wb.create_sheet(" ".join(map(str, np.atleast_1d(name)))[:31])
            _sheet(ws, header, d, columns, codes[language])
        path = out / f"{prefix}_{regency}.xlsx"
        with atomic_path(path) as tmp:
            wb.save(tmp)
        paths.append(path)
        paths.append(write_csv(body.assign(**{heads["notes"]: ""}), out / f"{prefix}_{regency}.csv"))
    return paths


# printed widths (characters) of the columns whose text wraps; the others fit their longest value
_WRAPPED = {"address": 28, "reasons": 60, "evidence": 40, "notes": 24}
_ALIGN = {wrap: Alignment(wrap_text=wrap, vertical="top") for wrap in (False, True)}  # shared: styles are immutable


def _sheet(ws, header: list[str], d: pd.DataFrame, columns: list[str], codes) -> None:
    """One list of one district (or village meeting): the notes, the header row (bold, frozen, printed on
    every page), the visits, and a drop-down of the result (or decision) codes; landscape, one page wide."""
    for line in header:
        ws.append([line])
    ws.append([])
    ws.append(list(d.columns))
    head = ws.max_row
    for cell in ws[head]:
        cell.font = Font(bold=True)
        cell.alignment = _ALIGN[True]
    for row in d.itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in row])
    lines = np.ones(len(d), dtype=int)  # printed lines of each visit's row
    for j, name in enumerate(columns, start=1):
        text = d.iloc[:, j - 1].astype("string").fillna("")
        width = min(_WRAPPED.get(name, 40), max(len(d.columns[j - 1]), int(text.str.len().max() or 0)))
        ws.column_dimensions[get_column_letter(j)].width = width + 2
        if name in _WRAPPED:
            lines = np.maximum(lines, -(-text.str.len().to_numpy(dtype=int) // width))
        for (cell,) in ws.iter_rows(min_row=head + 1, min_col=j, max_col=j):
            cell.alignment = _ALIGN[name in _WRAPPED]
    for i, n in enumerate(lines):
        ws.row_dimensions[head + 1 + i].height = 15 * int(n)
    result = get_column_letter(columns.index("result") + 1)
    choices = DataValidation(type="list", formula1='"' + ",".join(codes) + '"', allow_blank=True, showErrorMessage=True)
    choices.error = ", ".join(codes)  # any other value is refused, with the codes to use
    choices.add(f"{result}{head + 1}:{result}{max(ws.max_row, head + 1)}")
    ws.add_data_validation(choices)
    ws.freeze_panes = ws.cell(row=head + 1, column=1)
    ws.print_title_rows = f"{head}:{head}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def public_list(families: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """Beneficiaries per village for public scrutiny (uji publik): head's name, village and masked
    NIK (first 6 and last 4 digits). No scores, no reasons."""
    ben = families[families["receives_pkh"].astype(bool)]
    heads = members[members["relationship"] == 1].drop_duplicates("family_id").set_index("family_id")["nik"]
    out = pd.DataFrame(
        {
            "village_code": ben["village_code"].to_numpy(),
            "family_id": ben["family_id"].to_numpy(),
            "head_name": ben["head_name"].to_numpy(),
            "nik_masked": mask_nik(heads.reindex(ben["family_id"].to_numpy())).to_numpy(),
        }
    )
    return out.sort_values(["village_code", "head_name", "family_id"], ignore_index=True)


def write_public_lists(families: pd.DataFrame, members: pd.DataFrame, out_dir) -> list[Path]:
    """One CSV per village of `public_list`."""
    out = Path(out_dir)
    return [
        write_csv(g, out / f"uji_publik_{village}.csv")
        for village, g in public_list(families, members).groupby("village_code")
    ]
