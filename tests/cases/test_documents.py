"""The usulan and the berita acara, read back as the operator and the signatories will see them."""

import pandas as pd
import pytest
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader

from _cases import REF, registry, returned_list, scores_of
from pkh_targeting.cases import (
    case_states,
    list_round,
    minutes_number,
    open_ledger,
    proposals,
    record_decisions,
    record_results,
    write_minutes,
    write_proposals,
)
from pkh_targeting.formatting import long_date


@pytest.fixture(scope="module")
def reg():
    return registry(1200, seed=5)


@pytest.fixture
def visited(ledger_url, reg, tmp_path):
    """A round of 60 visits come back: three not found or moved, the rest with their true result."""
    with open_ledger(ledger_url) as ledger:
        r = list_round(ledger, scores_of(reg), reg.families, 60, tmp_path / "lists", listed_on=REF, public_lists=False)
        fids = r.lists.ranked["family_id"].tolist()
        odd = {fids[0]: "tidak ditemukan", fids[1]: "pindah", fids[2]: "pindah"}
        record_results(ledger, returned_list(r.lists.ranked, reg.truth, tmp_path / "r.csv", override=odd))
        yield ledger, r, list(odd)


def test_usulan_remove_every_beneficiary_found_not_eligible_and_nothing_for_not_found_or_moved(visited, tmp_path):
    ledger, r, odd = visited
    st = case_states(ledger.events()).set_index("family_id")
    ranked = r.lists.ranked.set_index("family_id")
    should_go = st.index[(st["result"] == "not eligible") & ranked.loc[st.index, "receives_pkh"]]
    should_come = st.index[(st["result"] == "eligible") & ~ranked.loc[st.index, "receives_pkh"]]
    assert len(should_go) and len(should_come)
    paths = write_proposals(ledger, tmp_path / "usulan", on=REF)
    csvs = [p for p in paths if p.suffix == ".csv"]
    usulan = pd.concat([pd.read_csv(p, dtype=str, encoding="utf-8-sig") for p in csvs])
    kinds = usulan.set_index("ID keluarga")["Jenis usulan"]
    assert set(kinds[kinds == "Penonaktifan kepesertaan"].index) == set(should_go)
    assert set(kinds[kinds == "Usulan baru"].index) == set(should_come)
    assert not set(odd) & set(usulan["ID keluarga"])
    villages = ledger.cases(usulan["ID keluarga"]).set_index("family_id")["village_code"]
    for path in csvs:  # one file per village, citing that village's minutes
        mine = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        village = path.stem.removeprefix("usulan_")
        assert (villages[mine["ID keluarga"]] == village).all()
        assert (mine["Nomor berita acara"] == minutes_number(village, r.label)).all()
        assert (mine["Tanggal kunjungan"] == long_date(REF + pd.Timedelta(days=20))).all()
    ws = load_workbook(paths[0]).active
    assert ws.print_title_rows == "$4:$4" and ws.page_setup.orientation == "landscape"
    assert ws.cell(row=4, column=2).value == "Jenis usulan" and ws.cell(row=4, column=2).border.left.style == "thin"
    proposed = ledger.events().query("kind == 'proposed'")
    assert set(proposed["family_id"]) == set(should_go) | set(should_come)
    assert set(proposed["source"]) == {p.name for p in csvs}
    # proposed once: written again, there is nothing left to propose
    assert write_proposals(ledger, tmp_path / "again", on=REF) == [] and not len(proposals(ledger))


def test_minutes_of_each_village_open_as_pdf_and_list_its_visits(visited, tmp_path):
    ledger, r, odd = visited
    paths = write_minutes(ledger, tmp_path / "ba", on=REF)
    pdfs, docs = [p for p in paths if p.suffix == ".pdf"], [p for p in paths if p.suffix == ".docx"]
    cases = ledger.cases(r.lists.ranked["family_id"])
    assert sorted(p.stem for p in pdfs) == sorted(p.stem for p in docs)
    assert {p.stem.removeprefix("berita_acara_") for p in pdfs} == set(cases["village_code"])
    for pdf in pdfs:
        village = pdf.stem.removeprefix("berita_acara_")
        text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
        text = " ".join(text.split())
        mine = cases[cases["village_code"] == village]
        assert "BERITA ACARA VERIFIKASI DAN VALIDASI LAPANGAN" in text
        assert minutes_number(village, r.label) in text and long_date(REF) in text
        assert mine["village_name"].iloc[0] in text and mine["district_name"].iloc[0] in text
        for fid in mine["family_id"]:
            assert fid in text
        for signer in ("Kepala Desa/Lurah", "Pendamping PKH", "TKSK", "Kepala Seksi Sosial"):
            assert signer in text
        if set(odd) & set(mine["family_id"]):
            assert "Pindah" in text or "Tidak ditemukan" in text
    doc = Document(docs[0])
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells][:3] == ["No", "ID keluarga", "Nama kepala keluarga"]
    assert len(table.rows) - 1 == (cases["village_code"] == docs[0].stem.removeprefix("berita_acara_")).sum()


def test_village_meeting_sheets_carry_its_decisions_back_into_the_cases(ledger_url, reg, tmp_path):
    with open_ledger(ledger_url) as ledger:
        r = list_round(ledger, scores_of(reg), reg.families, 40, tmp_path / "lists", listed_on=REF,
                       public_lists=False, meeting_size=3)  # fmt: skip
        agenda = r.lists.agenda
        assert len(agenda) and set(agenda["family_id"]) <= set(ledger.cases()["family_id"])
        book = sorted((tmp_path / "lists" / "meeting").glob("musyawarah_*.xlsx"))[0]
        wb = load_workbook(book)
        filled = {}
        for ws in wb.worksheets:
            rows = list(ws.iter_rows())
            at = next(i for i, row in enumerate(rows) if row[1].value == "ID keluarga")
            header = [c.value for c in rows[at]]
            assert "Keputusan musyawarah" in header and "Data instansi lain" not in header
            assert "Bantuan per tahun (Rp)" not in header and "Hasil kunjungan" not in header
            assert "musyawarah desa" in rows[2][0].value and "tetap, keluarkan, usulkan, tunda" in rows[2][0].value
            (choices,) = ws.data_validations.dataValidation
            assert choices.formula1 == '"tetap,keluarkan,usulkan,tunda"' and choices.showErrorMessage
            col = header.index("Keputusan musyawarah")
            for row, word in zip(rows[at + 1 :], ("keluarkan", "tetap")):
                row[col].value = word
                filled[row[1].value] = {"keluarkan": "remove", "tetap": "keep"}[word]
        wb.save(book)
        assert record_decisions(ledger, book) == len(filled)
        st = case_states(ledger.events()).set_index("family_id")
        assert st.loc[list(filled), "decision"].to_dict() == filled
        assert (st.loc[list(filled), "decision_basis"] == "discussed").all()
