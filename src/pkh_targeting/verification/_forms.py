"""The visit as an ODK/KoboToolbox form: an XLSForm checked by pyxform, and the visit list it picks from.

The form (``pkh_verifikasi.xlsx``, with its XForm ``pkh_verifikasi.xml``) asks the officer to pick the
family from the visit list (``visits.csv``, a media attachment: ``select_one_from_file``), shows the
family's name, address and reasons, and asks for the result (choice names ``eligible``,
``not_eligible``, ``not_found``, ``moved``); for a family found, a photo of the dwelling and the
location (required), for "not eligible" the grounds (choices), for "moved" the new address; the
minutes of the visit (berita acara) with the officer's and a witness's (RT/RW) name, and the visit
date. The officer searches the visit list by name or ID; the form's version changes with its visits.
Upload the XLSForm and ``visits.csv`` to ODK Central or KoboToolbox; their submissions export is read
back by `read_results`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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
    ("select_multiple grounds", "grounds", "Alasan tidak layak", "Why not eligible", "yes"),
    ("text", "new_address", "Alamat baru (atau: tidak diketahui)", "New address (or: unknown)", "yes"),
    ("image", "dwelling_photo", "Foto rumah", "Photo of the dwelling", "yes"),
    ("geopoint", "location", "Lokasi", "Location", "yes"),
    ("date", "visit_date", "Tanggal kunjungan", "Visit date", "yes"),
    ("end_group", "", "", "", ""),
    ("begin_group", "berita_acara", "Berita acara", "Minutes of the visit", ""),
    ("text", "minutes", "Catatan berita acara", "Minutes", ""),
    ("text", "officer_name", "Nama petugas", "Officer's name", "yes"),
    ("text", "witness_name", "Nama saksi (Ketua RT/RW)", "Witness (RT/RW head)", "yes"),
    ("end_group", "", "", "", ""),
]  # fmt: skip
# asked only where they apply (a question not asked is not required): the photo and the location of a
# family found at home, the grounds of "not eligible", the new address of a family that moved
_FOUND = "${result} = 'eligible' or ${result} = 'not_eligible'"
_RELEVANT = {"dwelling_photo": _FOUND, "location": _FOUND, "grounds": "${result} = 'not_eligible'",
             "new_address": "${result} = 'moved'"}  # fmt: skip
GROUNDS_CHOICES = {  # name: (Indonesian, English); the community reports' grounds where they match
    "well_off": ("Tampak mampu", "Appears well off"),
    "assets": ("Memiliki aset (mobil, tanah, rumah kedua)", "Owns assets (car, land, second house)"),
    "income": ("Berpenghasilan tetap", "Has a regular income"),
    "civil_servant": ("Anggota keluarga ASN/TNI/Polri", "A member is a civil servant, soldier or police"),
    "no_component": ("Tidak ada lagi komponen PKH", "No PKH component left"),
    "died": ("Anggota yang memenuhi syarat meninggal", "The qualifying member died"),
    "duplicate": ("Terdaftar ganda", "Registered twice"),
    "other": ("Lainnya (tulis di berita acara)", "Other (write it in the minutes)"),
}


def _survey_rows() -> list[list]:
    rows = []
    for kind, name, label_id, label_en, required in _SURVEY:
        calculation = f"pulldata('visits', '{name}', 'name', ${{family_id}})" if kind == "calculate" else ""
        default = "today()" if name == "visit_date" else ""
        appearance = "autocomplete" if name == "family_id" else ""  # the officer searches the visit list
        rows.append([kind, name, label_id, label_en, required, _RELEVANT.get(name, ""), appearance, calculation,
                     default])  # fmt: skip
    return rows


def form_version(ranked: pd.DataFrame, date: dt.date, content: pd.DataFrame | None = None) -> str:
    """``settings.version``: the date, rules and model the visits were chosen by, and a digest of the
    visit list, so that a rerun with other visits is a new version ODK Central accepts."""
    versions = ranked[["model_version", "rules_version"]].drop_duplicates().astype(str).agg(" ".join, axis=1)
    digest = ""
    if content is not None:
        rows = pd.util.hash_pandas_object(content, index=False).to_numpy()
        digest = " " + hashlib.sha256(rows.tobytes() + repr(_SURVEY).encode()).hexdigest()[:8]
    return f"{date:%Y%m%d} {' '.join(sorted(versions))}{digest}"


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
    survey.append(["type", "name", *_LABELS, "required", "relevant", "appearance", "calculation", "default"])
    for row in _survey_rows():
        survey.append(row)
    choices = wb.create_sheet("choices")
    choices.append(["list_name", "name", *_LABELS])
    for name, labels in RESULT_CHOICES.items():
        choices.append(["result", name, *labels])
    for name, labels in GROUNDS_CHOICES.items():
        choices.append(["grounds", name, *labels])
    settings = wb.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append(["Verifikasi PKH", FORM_ID, form_version(ranked, date, table), "Indonesian (id)"])
    xlsform = out / f"{FORM_ID}.xlsx"
    with atomic_path(xlsform) as tmp:
        wb.save(tmp)
        xform = convert(xlsform=str(tmp), file_type=".xlsx", form_name=FORM_ID).xform
    with atomic_path(out / f"{FORM_ID}.xml") as tmp:
        tmp.write_text(xform, encoding="utf-8")
    # the form's media file, without BOM: ODK Collect reads the first header as "name"
    return [xlsform, out / f"{FORM_ID}.xml", write_csv(table, out / VISITS_FILE, bom=False)]
