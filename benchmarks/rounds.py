"""Closed loop (issue: cases): quarterly verification rounds at a fixed visit budget on the synthetic
registry, the registry applying 70% of the office's decisions each quarter (`Registry.next_round`).

Three arms, on the same population:
(a) today's memoryless ranking: the model trained once, every family a candidate every round;
(b) the case ledger: families a visit or decision settled are left out (12-month cool-off, unless
    new evidence), and the model is retrained each round on the ledger's outcomes (`train --cases`);
(c) (b) with 20% of the visits drawn where the model is least sure (`explore_share`, recorded).

Each arm keeps a ledger (arm (a) only to measure). Prints per arm and round: visits, distinct true
errors found (so far, and per 1,000 visits), visits spent on families already settled (a usable
result within 12 months and no new evidence since), and the model's precision of the top 10% on an
untouched registry of the same regions (inclusion among beneficiaries with a component; exclusion).

    python benchmarks/rounds.py [N_FAMILIES [BUDGET [ROUNDS]]]      (default 20000 families, 400 visits, 4)
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pkh_targeting import TargetingModel, generate_registry
from pkh_targeting.cases import (
    case_states,
    list_round,
    open_ledger,
    record_results,
    refresh,
    settled_families,
    verified_outcomes,
    with_verified_outcomes,
    write_proposals,
)
from pkh_targeting.verification import HEADERS, RESULT_CODES

REF = dt.date(2025, 4, 1)
ARMS = {"a_memoryless": {}, "b_ledger": {"ledger": True}, "c_ledger_explore": {"ledger": True, "explore": 0.2}}


def evidence(reg) -> dict:
    return {"registry_records": reg.registry_records, "community_reports": reg.community_reports}


def fit(reg, ledger=None) -> TargetingModel:
    fam = reg.families if ledger is None else with_verified_outcomes(reg.families, verified_outcomes(ledger))
    return TargetingModel().fit(fam, reg.members, reference_date=reg.reference_date, **evidence(reg))


def score(model, reg) -> pd.DataFrame:
    return model.score(reg.families, reg.members, reference_date=reg.reference_date, reasons="none", **evidence(reg))


def top_precision(model, untouched) -> tuple[float, float]:
    """Precision of the top 10% of beneficiaries with a component (inclusion) and of the
    non-beneficiaries with one (exclusion), on a registry no arm has touched."""
    s = score(model, untouched).merge(untouched.truth[["family_id", "inclusion_error", "exclusion_error"]])
    out = []
    for t, err in (("inclusion", "inclusion_error"), ("exclusion", "exclusion_error")):
        pool = s[(s["error_type"] == t) & (s["n_components"] > 0)].sort_values("error_score", ascending=False)
        out.append(float(pool[err].head(max(1, len(pool) // 10)).mean()))
    return tuple(out)


def visit(ranked: pd.DataFrame, reg, path: Path, on: dt.date) -> pd.DataFrame:
    """What the teams find (the truth of the quarter) and the returned list they hand in."""
    t = reg.truth.set_index("family_id").loc[ranked["family_id"]]
    moved = t["moved"].to_numpy(bool) if "moved" in t else np.zeros(len(t), bool)
    codes = RESULT_CODES["id"]
    result = np.where(moved, codes[3], np.where(t["eligible"], codes[0], codes[1]))
    h = HEADERS["id"]
    pd.DataFrame({h["family_id"]: ranked["family_id"].to_numpy(), h["result"]: result,
                  "Tanggal kunjungan": on.strftime("%d/%m/%Y")}).to_csv(path, index=False)  # fmt: skip
    error = ~moved & (t["inclusion_error"].to_numpy() | t["exclusion_error"].to_numpy())
    return pd.DataFrame({"family_id": ranked["family_id"].to_numpy(), "error": error})


def decisions(ledger) -> pd.DataFrame:
    states = case_states(ledger.events())
    return states.loc[states["state"].isin(["proposed", "not_applied"]), ["family_id", "decision"]]


COLUMNS = ("arm", "round", "visits", "distinct_errors", "per_1000_visits", "settled_visits", "top10_inclusion",
           "top10_exclusion", "seconds")  # fmt: skip


def _line(row: dict) -> str:
    cells = [f"{row[c]:.3f}" if c.startswith("top10") else f"{row[c]:.0f}" if isinstance(row[c], float) else str(row[c])
             for c in COLUMNS]  # fmt: skip
    return "  ".join(f"{v:>{16 if i == 0 else len(c)}}" for i, (c, v) in enumerate(zip(COLUMNS, cells)))


def run_arm(name: str, reg, model, untouched, budget: int, rounds: int, folder: Path, ledger=None, explore=0.0):
    rows, found, visits = [], set(), 0
    with open_ledger(folder / "cases.db") as led:
        for r in range(rounds):
            t0 = time.perf_counter()
            if ledger and r > 0:
                model = fit(reg, led)
            scores = score(model, reg)
            on = reg.reference_date
            settled = settled_families(case_states(led.events()), scores, on, 12)
            settled = set(settled.loc[settled["new_evidence"].isna(), "family_id"])
            # arm (a) lists as today, with no cool-off: its ledger only measures
            options = dict(by="district_code", seed=r, explore_share=explore, cool_off_months=None if ledger else 0)
            listed = list_round(led, scores, reg.families, budget, folder / f"lists{r}", listed_on=on,
                                public_lists=False, **options)  # fmt: skip
            ranked = listed.lists.ranked
            seen = visit(ranked, reg, folder / f"hasil{r}.csv", on + dt.timedelta(days=30))
            record_results(led, folder / f"hasil{r}.csv")
            write_proposals(led, folder / f"usulan{r}", on=on + dt.timedelta(days=45))
            found |= set(seen.loc[seen["error"], "family_id"])
            visits += len(ranked)
            incl, excl = top_precision(model, untouched)
            settled_visits = int(ranked["family_id"].isin(settled).sum())
            rows.append({
                "arm": name, "round": r + 1, "visits": visits, "distinct_errors": len(found),
                "per_1000_visits": 1000 * len(found) / visits, "settled_visits": settled_visits,
                "top10_inclusion": incl, "top10_exclusion": excl, "seconds": time.perf_counter() - t0,
            })  # fmt: skip
            print(_line(rows[-1]), flush=True)
            reg = reg.next_round(decisions(led))
            refresh(led, score(model, reg))
    return rows


def main(n: int = 20_000, budget: int = 400, rounds: int = 4) -> pd.DataFrame:
    t0 = time.perf_counter()
    reg = generate_registry(n, 0, reference_date=REF)
    untouched = generate_registry(n, 500, regions_seed=0, reference_date=REF)
    model = fit(reg)
    took = time.perf_counter() - t0
    print(f"registry of {n:,} families, {budget} visits a round, {rounds} rounds; first model {took:.0f} s")
    print("  ".join(f"{c:>16}" if i == 0 else c for i, c in enumerate(COLUMNS)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, arm in ARMS.items():
            folder = Path(tmp) / name
            folder.mkdir()
            rows += run_arm(
                name, reg, model, untouched, budget, rounds, folder, arm.get("ledger"), arm.get("explore", 0)
            )
    table = pd.DataFrame(rows)
    last = table.groupby("arm").last()
    gain = last.loc["b_ledger", "distinct_errors"] / last.loc["a_memoryless", "distinct_errors"] - 1
    print(f"\ndistinct true errors after {rounds} rounds:", last["distinct_errors"].to_dict())
    settled = table.groupby("arm")["settled_visits"].sum().to_dict()
    print(f"(b) against (a): {gain:+.1%}; visits on settled families: {settled}")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return table


if __name__ == "__main__":
    main(*map(int, sys.argv[1:4]))
