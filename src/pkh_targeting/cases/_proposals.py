"""The proposals (usulan) a round's results call for, per village, as the SIKS-NG operator enters
them: removals of beneficiaries found not eligible, new families found eligible, corrections of data.
Writing them records a ``proposed`` event for each case, citing the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side

from ..formatting import long_date, number
from ..outputs import atomic_path, neutralize_formulas, write_csv
from ..records.lineage import file_sha256
from ._store import Ledger, recorder, row_key
from ._views import WORDS, case_table, minutes_number, records, region_name, round_labels

PROPOSAL_KINDS = {"remove": "Penonaktifan kepesertaan", "add": "Usulan baru", "update": "Perbaikan data"}
_GROUNDS = {
    "remove": "Hasil verifikasi lapangan: tidak layak",
    "add": "Hasil verifikasi lapangan: layak, belum menerima",
}
# column: (header, printed width in characters; None: in the CSV only, the sheet's title names the village)
COLUMNS = {
    "no": ("No", 4), "kind": ("Jenis usulan", 13), "family_id": ("ID keluarga", 14),
    "head_name": ("Nama kepala keluarga", 16), "address": ("Alamat", 18), "village": ("Desa/Kelurahan", None),
    "district": ("Kecamatan", None), "status": ("Status PKH saat ini", 11), "grounds": ("Dasar usulan", 20),
    "result": ("Hasil verifikasi", 10), "visited_on": ("Tanggal kunjungan", 11),
    "minutes": ("Nomor berita acara", 24), "photo": ("Berkas foto", 13), "location": ("Titik lokasi", 12),
    "officer": ("Petugas", 12),
}  # fmt: skip
PRINTED = [c for c, (_, width) in COLUMNS.items() if width]


def proposals(ledger: Ledger) -> pd.DataFrame:
    """The changes the ledger's settled cases call for and that await entry into SIKS-NG: not
    proposed yet, or proposed and not applied by the registry. Conflicts propose nothing, and
    neither do families not found or moved."""
    t = case_table(ledger)
    if not len(t):
        return t
    t = t[
        t["decision"].isin(list(PROPOSAL_KINDS))
        & ~t["conflict"].astype(bool)
        & ~t["state"].isin(["proposed", "applied"])
    ]
    labels = round_labels(ledger)
    w = WORDS["id"]
    rows = []
    for r in records(t.sort_values(["village_code", "decision", "family_id"])):
        visit = r.get("visit") or {}
        lat, lon = visit.get("latitude"), visit.get("longitude")
        status = "" if r["receives_pkh"] is None else w[bool(r["receives_pkh"])]
        rows.append({
            "kind": PROPOSAL_KINDS[r["decision"]], "decision": r["decision"], "family_id": r["family_id"],
            "head_name": r.get("head_name"), "address": r.get("address"), "village_code": r["village_code"],
            "village": region_name(r, "village"), "district": region_name(r, "district"),
            "regency_code": r["regency_code"], "status": status,
            "grounds": r.get("grounds") or _GROUNDS.get(r["decision"], ""), "result": w.get(r["result"], ""),
            "visited_on": long_date(r["visited_on"]),
            "minutes": minutes_number(r["village_code"], labels[r["rounds"][-1]]) if r["rounds"] else "",
            "photo": visit.get("photo") or "", "location": f"{lat}, {lon}" if lat and lon else "",
            "officer": visit.get("officer") or "", "basis_on": r["settled_on"] or r["decided_on"],
        })  # fmt: skip
    return pd.DataFrame(rows)


def _workbook(p: pd.DataFrame, on: dt.date) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "usulan"
    first = p.iloc[0]
    ws.append([f"USULAN PERUBAHAN DATA PKH: Desa/Kelurahan {first['village']}, Kecamatan {first['district']}"])
    ws.append([f"Disiapkan {long_date(on)} untuk dientri operator ke SIKS-NG; {number(len(p))} usulan. "
               "Memuat data pribadi: jangan disebarkan."])  # fmt: skip
    ws["A1"].font = Font(bold=True, size=12)
    ws.append([])
    ws.append([COLUMNS[c][0] for c in PRINTED])
    thin = Side(style="thin")
    body = neutralize_formulas(p.assign(no=range(1, len(p) + 1))[PRINTED])
    for row in body.itertuples(index=False):
        ws.append(["" if pd.isna(v) else v for v in row])
    for row in ws.iter_rows(min_row=4, max_row=ws.max_row):
        for cell in row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            cell.font = Font(bold=cell.row == 4, size=10)
    for j, column in enumerate(PRINTED, start=1):
        ws.column_dimensions[ws.cell(row=4, column=j).column_letter].width = COLUMNS[column][1]
    for row in ws.iter_rows(min_row=4, max_row=ws.max_row):  # wrapped text needs its lines' height
        lines = max(-(-len(str(c.value or "")) // (COLUMNS[col][1] - 1)) for c, col in zip(row, PRINTED))
        ws.row_dimensions[row[0].row].height = 13.5 * max(lines, 1)
    ws.freeze_panes, ws.print_title_rows = "A5", "4:4"
    ws.page_setup.orientation, ws.page_setup.paperSize = "landscape", ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddFooter.center.text = "Halaman &P dari &N"
    return wb


def write_proposals(ledger: Ledger, out, *, on=None, recorded_by: str | None = None) -> list[Path]:
    """Write ``usulan_<village>.xlsx`` and ``.csv`` of `proposals` for each village to ``out``, and
    record a ``proposed`` event for each case (written again, the same proposal adds nothing)."""
    on, out, by = pd.Timestamp(on or dt.date.today()).date(), Path(out), recorder(recorded_by)
    p, paths, events = proposals(ledger), [], []
    for village, g in p.groupby("village_code", sort=True) if len(p) else []:
        path = out / f"usulan_{village}.xlsx"
        with atomic_path(path) as tmp:
            _workbook(g, on).save(tmp)
        csv = write_csv(g[list(COLUMNS)[1:]].rename(columns={k: h for k, (h, _) in COLUMNS.items()}),
                        out / f"usulan_{village}.csv")  # fmt: skip
        paths += [path, csv]
        sha = file_sha256(csv)
        events += [
            {"key": row_key("proposed", r["family_id"], r["decision"], r["basis_on"], csv.name, on),
             "family_id": r["family_id"], "kind": "proposed", "value": r["decision"], "round_id": None,
             "occurred_on": on, "recorded_by": by, "source": csv.name, "source_sha256": sha,
             "source_row": str(i + 1), "data": {"kind": r["kind"], "minutes": r["minutes"], "xlsx": path.name}}
            for i, r in enumerate(g.to_dict("records"))
        ]  # fmt: skip
    ledger.add_events(pd.DataFrame(events))
    return paths
