"""How the case ledger scales (issue: cases): a district's year of rounds in one ledger.

Records N cases (a round: ``scored`` and ``listed`` events), their visits (a returned list), then times
reading every event, the states of all cases, the settled families a new round leaves out, and the
status table; on SQLite, or on PostgreSQL with ``--url``.

    python benchmarks/ledger_scale.py [N_CASES] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pkh_targeting.cases import case_states, open_ledger, record_results, settled_families, status
from pkh_targeting.cases._rounds import _record_listing
from pkh_targeting.verification import HEADERS


def scores(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    p = rng.random(n)
    receives = rng.random(n) < 0.3
    village = np.char.add("3301", np.char.zfill((np.arange(n) // 200).astype(str), 6))
    district = np.char.add("3301", np.char.zfill((np.arange(n) // 2000).astype(str), 3))
    return pd.DataFrame({
        "family_id": np.char.add("F", np.char.zfill(np.arange(n).astype(str), 9)), "province_code": "33",
        "regency_code": "3301", "district_code": district,
        "village_code": village, "receives_pkh": receives, "n_components": 1, "benefit_rp": 3_000_000,
        "p_eligible": p, "error_type": np.where(receives, "inclusion", "exclusion"),
        "error_score": np.where(receives, 1 - p, p), "reasons": "x", "model_version": "m", "rules_version": "pkh-2025",
        "list": np.where(receives, "inclusion", "exclusion"), "rank": 1, "audit": False, "explore": False,
        "selection_probability": 1.0, "unit": village, "expected_value_rp": 1.0, "head_name": "Nama",
        "address": "Alamat",
    })  # fmt: skip


def main(n: int = 50_000, url: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp, open_ledger(url or Path(tmp) / "cases.db") as ledger:
        s = scores(n)
        t = time.perf_counter()
        round_id = ledger.add_round(label="bench", listed_on=pd.Timestamp("2026-01-01").date(), recorded_by="bench",
                                    scores_sha256="0" * 64, model_version="m", rules_version="pkh-2025", budget=n,
                                    unit="village_code", seed=0, cool_off_months=12, left_out=0)  # fmt: skip
        _record_listing(ledger, s, s, round_id, pd.Timestamp("2026-01-01").date(), "0" * 64, s, "bench")
        print(f"{n:,} cases listed (2 events each): {time.perf_counter() - t:.1f} s")
        h = HEADERS["id"]
        result = np.where(s["p_eligible"] > 0.5, "layak", "tidak layak")
        pd.DataFrame({h["family_id"]: s["family_id"], h["result"]: result, "Tanggal kunjungan": "20/01/2026"}).to_csv(
            Path(tmp) / "r.csv", index=False
        )
        t = time.perf_counter()
        rec = record_results(ledger, Path(tmp) / "r.csv")
        print(f"{rec.new:,} results recorded: {time.perf_counter() - t:.1f} s")
        for what, step in (
            ("read every event", lambda: ledger.events()),
            ("states of every case", lambda: case_states(ledger.events())),
            ("settled of a new round", lambda: settled_families(case_states(ledger.events()), s, "2026-04-01", 12)),
            ("status per village", lambda: status(ledger)),
        ):  # fmt: skip
            t = time.perf_counter()
            step()
            print(f"{what}: {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--url")]
    urls = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--url=")]
    main(int(args[0]) if args else 50_000, urls[0] if urls else None)
