"""The case ledger from the command line: a round, its results, decisions, documents, the next batch."""

import pandas as pd
from typer.testing import CliRunner

from _cases import REF, registry, returned_list, scores_of
from pkh_targeting import TargetingModel, jobs
from pkh_targeting.cases import case_states, list_round, open_ledger, record_results
from pkh_targeting.cli import app
from pkh_targeting.synth import Registry

runner = CliRunner()


def ok(args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())  # as read, whatever the terminal's width


def test_a_coordinators_round_from_the_command_line(ledger_url, tmp_path):
    reg = registry(1200, seed=7)
    reg.write(tmp_path / "reg")
    scores_of(reg).to_parquet(tmp_path / "scores.parquet", index=False)
    fam = tmp_path / "reg" / "families.parquet"
    rank = ["rank", "--scores", tmp_path / "scores.parquet", "--families", fam, "--budget", 60, "--cases", ledger_url]
    out = ok([*rank, "--out", tmp_path / "l1", "--no-public-lists"])
    assert "0 settled families left out" in out and "60 families listed" in out
    ranked = pd.read_parquet(tmp_path / "l1" / "ranked.parquet")
    fids = ranked["family_id"].tolist()
    results = returned_list(ranked, reg.truth, tmp_path / "hasil.csv")
    feedback = ["feedback", "--lists", tmp_path / "l1", "--results", results, "--cases", ledger_url]
    assert "60 new result(s), 0 already recorded" in ok(feedback)
    assert "0 new result(s), 60 already recorded" in ok(feedback)
    pd.DataFrame({"ID keluarga": fids[:2], "Keputusan": ["tetap", "tunda"]}).to_csv(tmp_path / "k.csv", index=False)
    assert "2 new decision(s)" in ok(["cases", "decide", "--file", tmp_path / "k.csv", "--cases", ledger_url])
    assert "0 conflict(s)" in ok(["cases", "conflicts", "--cases", ledger_url])
    status = ok(["cases", "status", "--cases", ledger_url])
    assert "verified" in status and "total" in status
    assert "usulan for" in ok(["cases", "proposals", "--cases", ledger_url, "--out", tmp_path / "u"])
    assert list((tmp_path / "u").glob("usulan_*.xlsx"))
    ok(["cases", "minutes", "--cases", ledger_url, "--out", tmp_path / "ba", "--no-pdf", "--date", "2026-02-01"])
    assert len(list((tmp_path / "ba").glob("*.docx"))) == ranked["village_code"].nunique()
    out = ok([*rank, "--out", tmp_path / "l2", "--no-public-lists"])
    assert "59 settled families left out" in out
    again = pd.read_parquet(tmp_path / "l2" / "ranked.parquet")
    with open_ledger(ledger_url) as ledger:
        settled = case_states(ledger.events()).dropna(subset=["settled_on"])["family_id"]
    assert not again["family_id"].isin(settled).any() and len(settled) == 59  # "defer" settles nothing
    refreshed = ok(["cases", "refresh", "--cases", ledger_url, "--scores", tmp_path / "scores.parquet",
                    "--out", tmp_path / "r"])  # fmt: skip
    assert "not_applied" in refreshed and (tmp_path / "r" / "refresh_by_village.csv").is_file()
    ok(["synth", "--next-of", tmp_path / "reg", "--cases", ledger_url, "--out", tmp_path / "reg2"])
    nxt = Registry.read(tmp_path / "reg2")
    assert nxt.round == 1 and nxt.reference_date > REF


def test_rank_with_a_ledger_that_cannot_be_opened_is_a_one_line_error(tmp_path):
    scores = tmp_path / "scores.parquet"
    scores_of(registry(300, seed=2)).to_parquet(scores, index=False)
    res = runner.invoke(app, ["rank", "--scores", str(scores), "--families", str(scores), "--budget", "5",
                              "--cases", "postgresql+psycopg://nobody@/nowhere?host=/nonexistent"])  # fmt: skip
    assert res.exit_code == 2 and "ledger" in " ".join(res.output.split()).lower()


def test_train_takes_the_verified_outcomes_from_the_ledger(ledger_url, tmp_path):
    reg = registry(2500, seed=9)
    with open_ledger(ledger_url) as ledger:
        r = list_round(ledger, scores_of(reg), reg.families, 150, tmp_path / "l", listed_on=REF, public_lists=False)
        record_results(ledger, returned_list(r.lists.ranked, reg.truth, tmp_path / "h.csv"))
    plain = reg.families.assign(verified_eligible=pd.NA)  # an office whose families table holds no outcome
    trained = jobs.train(plain, reg.members, cases=ledger_url, out=tmp_path / "m", reference_date=REF)
    assert trained.model.fingerprint_["verified"] == 150
    assert isinstance(TargetingModel.load(tmp_path / "m"), TargetingModel)
