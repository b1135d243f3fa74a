"""The visit as an ODK/KoboToolbox form: an XLSForm checked by pyxform, and the visit list it picks from.

The form (``pkh_verifikasi.xlsx``, with its XForm ``pkh_verifikasi.xml``) asks the officer to pick the
family from the visit list (``visits.csv``, a media attachment: ``select_one_from_file``), shows the
family's name, address and reasons, and asks for the result (choice names ``eligible``,
``not_eligible``, ``not_found``, ``moved``), a photo of the dwelling, the location, the minutes of
the visit (berita acara) with the officer's name, and the visit date. Upload the XLSForm and
``visits.csv`` to ODK Central or KoboToolbox; their submissions export is read back by `read_results`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from pyxform.xls2xform import convert

from ..outputs import atomic_path, write_csv
from ._field_lists import VISIT_COLUMNS

FORM_ID = "pkh_verifikasi"
VISITS_FILE = "visits.csv"
RESULT_CHOICES = {  # name: (Indonesian, English)
    "eligible": ("Layak", "Eligible"),
    "not_eligible": ("Tidak layak", "Not eligible"),
    "not_found": ("Tidak ditemukan", "Not found"),
    "moved": ("Pindah", "Moved"),
}
_LABELS = ("label::Indonesian (id)", "label::English (en)")
# type, name, Indonesian label, English label, required
_SURVEY = [
    ("today", "today", "", "", ""),
    ("start", "start", "", "", ""),
    ("end", "end", "", "", ""),
    ("begin_group", "visit", "Kunjungan", "Visit", ""),
    (f"select_one_from_file {VISITS_FILE}", "family_id", "Keluarga yang dikunjungi", "Family visited", "yes"),
    ("calculate", "head_name", "", "", ""),
    ("calculate", "address", "", "", ""),
    ("calculate", "reasons", "", "", ""),
    ("note", "family_note", "Kepala keluarga: ${head_name}\nAlamat: ${address}\nAlasan: ${reasons}",
     "Head of family: ${head_name}\nAddress: ${address}\nReasons: ${reasons}", ""),
    ("select_one result", "result", "Hasil kunjungan", "Visit result", "yes"),
    ("image", "dwelling_photo", "Foto rumah", "Photo of the dwelling", ""),
    ("geopoint", "location", "Lokasi", "Location", ""),
    ("date", "visit_date", "Tanggal kunjungan", "Visit date", "yes"),
    ("end_group", "", "", "", ""),
    ("begin_group", "berita_acara", "Berita acara", "Minutes of the visit", ""),
    ("text", "minutes", "Catatan berita acara", "Minutes", ""),
    ("text", "officer_name", "Nama petugas", "Officer's name", "yes"),
    ("end_group", "", "", "", ""),
]  # fmt: skip


def _survey_rows() -> list[list]:
    rows = []
    for kind, name, label_id, label_en, required in _SURVEY:
        calculation = f"pulldata('visits', '{name}', 'name', ${{family_id}})" if kind == "calculate" else ""
        default = "today()" if name == "visit_date" else ""
        rows.append([kind, name, label_id, label_en, required, calculation, default])
    return rows


def form_version(ranked: pd.DataFrame, date: dt.date) -> str:
    """``settings.version``: the date, rules and model the visits were chosen by."""
    versions = ranked[["model_version", "rules_version"]].drop_duplicates().astype(str).agg(" ".join, axis=1)
    return f"{date:%Y%m%d} {' '.join(sorted(versions))}"


def write_field_form(
    ranked: pd.DataFrame, families: pd.DataFrame, out_dir, *, date: dt.date | None = None
) -> list[Path]:
    """Write the XLSForm, its XForm and ``visits.csv`` for the visits in ``ranked`` to ``out_dir``.

    ``families`` gives the names and addresses the officer sees. The form is converted by pyxform
    (which raises on anything ODK would refuse) before it is written.

    Returns
    -------
    list of Path
        The XLSForm, the XForm and the visit list.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    date = date or dt.date.today()
    who = families[VISIT_COLUMNS].drop_duplicates("family_id")
    visits = ranked.merge(who, on="family_id", how="left", validate="many_to_one")
    table = pd.DataFrame(
        {
            "name": visits["family_id"],
            "label": visits["family_id"] + " " + visits["head_name"].fillna(""),
            "head_name": visits["head_name"],
            "address": visits["address"],
            "reasons": visits["reasons"].fillna(""),
            "list": visits["list"],
            "unit": visits["unit"],
        }
    )
    wb = Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(["type", "name", *_LABELS, "required", "calculation", "default"])
    for row in _survey_rows():
        survey.append(row)
    choices = wb.create_sheet("choices")
    choices.append(["list_name", "name", *_LABELS])
    for name, labels in RESULT_CHOICES.items():
        choices.append(["result", name, *labels])
    settings = wb.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append(["Verifikasi PKH", FORM_ID, form_version(ranked, date), "Indonesian (id)"])
    xlsform = out / f"{FORM_ID}.xlsx"
    with atomic_path(xlsform) as tmp:
        wb.save(tmp)
        xform = convert(xlsform=str(tmp), file_type=".xlsx", form_name=FORM_ID).xform
    with atomic_path(out / f"{FORM_ID}.xml") as tmp:
        tmp.write_text(xform, encoding="utf-8")
    # the form's media file, without BOM: ODK Collect reads the first header as "name"
    return [xlsform, out / f"{FORM_ID}.xml", write_csv(table, out / VISITS_FILE, bom=False)]
