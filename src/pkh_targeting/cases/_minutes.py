"""The minutes (berita acara) of a round's field verification, one per village: DOCX, which offices
edit, and the PDF LibreOffice prints of it. The official text is Indonesian.

Each lists the families visited with the result and the decision asked for, with the region names,
the date, the number of the minutes (which the proposals cite) and signature lines for the kepala
desa/lurah, the PKH facilitator, the TKSK and the Kasi Sosial of the kecamatan.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from ..formatting import long_date, number, weekday
from ..outputs import atomic_path, print_to_pdf
from ._store import Ledger
from ._views import WORDS, case_table, minutes_number, records, region_name, round_of

COLUMNS = ("No", "ID keluarga", "Nama kepala keluarga", "Alamat", "Status PKH", "Hasil verifikasi",
           "Keputusan yang diminta", "Tanggal kunjungan", "Petugas")  # fmt: skip
_WIDTHS_CM = (1.0, 3.0, 3.6, 5.2, 2.4, 2.8, 3.0, 2.6, 2.9)
# who signs: the role, and the place it serves (two lines each, so that the signature lines align)
SIGNERS = (("Kepala Desa/Lurah", "{village}"), ("Pendamping PKH", ""), ("TKSK", "Kecamatan {district}"),
           ("Kepala Seksi Sosial", "Kecamatan {district}"))  # fmt: skip


def visited_in_round(ledger: Ledger, round_id: int) -> pd.DataFrame:
    """The cases of a round that have a visit result (or disagreeing results), with their state."""
    t = case_table(ledger)
    if not len(t):
        return t
    mine = t["rounds"].map(lambda rs: round_id in rs) & (t["last_visit_result"].notna() | t["conflict"].astype(bool))
    return t[mine].sort_values(["village_code", "family_id"], ignore_index=True)


def _rows(g: pd.DataFrame) -> list[tuple]:
    w = WORDS["id"]
    rows = []
    for i, r in enumerate(records(g), 1):
        result = w["conflict"] if r["conflict"] else w.get(r["result"] or r["last_visit_result"], "")
        decision = "" if r["conflict"] or r["result"] is None else w.get(r["decision"], "")
        status = w.get(bool(r["receives_pkh"])) if r["receives_pkh"] is not None else ""
        officer = (r["visit"] or {}).get("officer") or ""
        rows.append((str(i), r["family_id"], r.get("head_name") or "", r.get("address") or "", status, result,
                     decision, long_date(r["visited_on"]), officer))  # fmt: skip
    return rows


def _repeat_header(row) -> None:
    props = row._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    props.append(flag)


def _table(doc, rows: list[tuple]) -> None:
    table = doc.add_table(rows=1, cols=len(COLUMNS), style="Table Grid")
    table.alignment, table.autofit = WD_TABLE_ALIGNMENT.CENTER, False
    for column, width in zip(table.columns, _WIDTHS_CM):
        column.width = Cm(width)
    for cell, text in zip(table.rows[0].cells, COLUMNS):
        cell.text = text
        cell.paragraphs[0].runs[0].bold = True
    _repeat_header(table.rows[0])
    for values in rows:
        for cell, text in zip(table.add_row().cells, values):
            cell.text = text
    for row in table.rows:
        for cell, width in zip(row.cells, _WIDTHS_CM):
            cell.width = Cm(width)
            for p in cell.paragraphs:
                for run in p.runs:
                    run.font.size = Pt(9)


def _summary(g: pd.DataFrame) -> str:
    w = WORDS["id"]
    results = g["last_visit_result"].where(~g["conflict"].astype(bool), "conflict").value_counts()
    decided = g.loc[g["result"].notna() & ~g["conflict"].astype(bool), "decision"].value_counts()
    said = ", ".join(f"{w[k].lower()} {number(n)}" for k, n in results.items())
    asked = ", ".join(f"{w[k].lower()} {number(n)}" for k, n in decided.items() if k != "keep")
    asked = asked or "tidak ada perubahan"
    return f"Jumlah keluarga yang diverifikasi: {number(len(g))} ({said}). Keputusan yang diminta: {asked}."


def _signatures(doc, where: dict) -> None:
    """One row of four signature boxes, never split over two pages."""
    table = doc.add_table(rows=1, cols=len(SIGNERS))
    props = table.rows[0]._tr.get_or_add_trPr()
    props.append(OxmlElement("w:cantSplit"))
    for cell, (role, place) in zip(table.rows[0].cells, SIGNERS):
        cell.text = role
        for line in (place.format(**where), "", "", "", "(...................................)", "NIP/NIK:"):
            cell.add_paragraph(line)
        for p in cell.paragraphs:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER


def minutes_document(g: pd.DataFrame, round_label: str, on: dt.date):
    """The minutes of one village (``g``: its rows of `visited_in_round`) as a python-docx Document."""
    first = g.iloc[0].to_dict()
    where = {level: region_name(first, level) for level in ("province", "regency", "district", "village")}
    doc = Document()
    section = doc.sections[0]
    section.orientation, section.page_width, section.page_height = WD_ORIENT.LANDSCAPE, Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    doc.styles["Normal"].font.name, doc.styles["Normal"].font.size = "Liberation Sans", Pt(11)
    for text in ("BERITA ACARA VERIFIKASI DAN VALIDASI LAPANGAN", "PROGRAM KELUARGA HARAPAN (PKH)"):
        doc.add_paragraph().add_run(text).bold = True
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(
        f"Nomor: {minutes_number(first['village_code'], round_label)}"
    ).alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(
        f"Pada hari ini {weekday(on)}, tanggal {long_date(on)}, bertempat di Desa/Kelurahan {where['village']}, "
        f"Kecamatan {where['district']}, {where['regency']}, Provinsi {where['province']}, kami yang bertanda "
        f"tangan di bawah ini menyatakan bahwa verifikasi dan validasi lapangan putaran {round_label} telah "
        f"dilaksanakan terhadap {number(len(g))} keluarga, dengan hasil sebagai berikut:"
    )
    _table(doc, _rows(g))
    doc.add_paragraph()
    doc.add_paragraph(_summary(g))
    doc.add_paragraph(
        "Foto rumah dan titik lokasi setiap kunjungan tercatat pada data kunjungan dan menjadi lampiran berita "
        "acara ini. Demikian berita acara ini dibuat dengan sebenarnya untuk dipergunakan sebagaimana mestinya."
    )
    place = doc.add_paragraph(f"{where['village']}, {long_date(on)}")
    place.alignment, place.paragraph_format.keep_with_next = WD_ALIGN_PARAGRAPH.RIGHT, True
    _signatures(doc, where)
    return doc


def write_minutes(ledger: Ledger, out, *, round=None, on=None, pdf: bool = True) -> list[Path]:
    """Write ``berita_acara_<village>.docx`` (and ``.pdf`` with ``pdf``) for each village with visits
    in ``round`` (a label or id; the latest by default), dated ``on`` (today by default), to ``out``."""
    r, on = round_of(ledger, round), pd.Timestamp(on or dt.date.today()).date()
    visited, out = visited_in_round(ledger, int(r["id"])), Path(out)
    paths = []
    for village, g in visited.groupby("village_code", sort=True):
        path = out / f"berita_acara_{village}.docx"
        with atomic_path(path) as tmp:
            minutes_document(g, r["label"], on).save(tmp)
        paths.append(path)
    return paths + (print_to_pdf(paths) if pdf else [])
