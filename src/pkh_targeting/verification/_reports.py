"""The report queue: community reports awaiting a check, ordered by what checking them is worth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..modeling import benefit_at_stake, largest_remainder
from ..records.evidence import validate_evidence

# what each kind of report claims: the family should lose its benefit, or get one
CLAIMS = {"sanggah": "inclusion", "musdes_drop": "inclusion", "usul": "exclusion"}
QUEUE_COLUMNS = [
    "rank", "family_id", "unit", "list", "report_ids", "kinds", "channels", "n_reports",
    "p_report_right", "benefit_at_stake_rp", "expected_value_rp", "audit", "selection_probability",
]  # fmt: skip


def rank_reports(
    scores: pd.DataFrame,
    reports: pd.DataFrame,
    budget: int,
    *,
    by: str = "district_code",
    audit_share: float = 0.1,
    seed: int = 0,
    reference_date=None,
) -> pd.DataFrame:
    """The reports awaiting a check, one visit per family, within ``budget`` visits.

    A visit answers every report about the family. Its worth is the probability that the reports are
    right (the family's inclusion error score for an objection or a meeting's request to drop it, its
    exclusion error score for a proposal; the model has already weighed the reports themselves)
    times the yearly benefit at stake. Visits are shared out over the units of ``by`` in proportion
    to the worth they hold (each unit with a report gets one first while the budget allows), taken in
    order of worth within each unit; a random ``audit_share`` of the budget goes to the other
    reported families, with their selection probability, to measure how reliable each channel is.
    Reports confirming a family (``musdes_keep``) and reports whose claim the family's status already
    settles (an objection about a non-beneficiary) ask for no visit.

    Returns
    -------
    DataFrame
        `QUEUE_COLUMNS`, visits in order (ranked first, then the audit sample).
    """
    if budget < 1 or not 0 <= audit_share < 1:
        raise ValueError(f"budget must be at least 1 and audit_share in [0, 1); got {budget} and {audit_share}.")
    if by not in scores:
        raise ValueError(f"cannot rank by {by!r}: the scores have no such column.")
    valid = validate_evidence(reports, "community_reports", families=scores, reference_date=reference_date).valid
    queue = _family_queue(scores, valid, by)
    if not len(queue):
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    n_audit = int(round(budget * audit_share)) if len(queue) > budget else 0
    ranked = _per_unit(queue, budget - n_audit)
    rest = queue.drop(ranked.index)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(rest), min(n_audit, len(rest)), replace=False)) if n_audit else []
    audit = rest.iloc[pick].assign(audit=True, selection_probability=len(pick) / max(len(rest), 1))
    out = pd.concat([ranked.assign(audit=False, selection_probability=1.0), audit], ignore_index=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out[QUEUE_COLUMNS]


def _family_queue(scores: pd.DataFrame, reports: pd.DataFrame, by: str) -> pd.DataFrame:
    """One row per family with a report asking for a visit its status does not settle."""
    claim = reports["kind"].astype(str).map(CLAIMS)
    s = scores.set_index("family_id")
    status = np.where(s["receives_pkh"].reindex(reports["family_id"]).to_numpy(dtype=bool), "inclusion", "exclusion")
    open_ = reports[(claim.to_numpy() == status) & claim.notna().to_numpy()]
    if not len(open_):
        return pd.DataFrame()
    grouped = open_.groupby("family_id", sort=True).agg(
        report_ids=("report_id", lambda x: ";".join(sorted(map(str, x)))),
        kinds=("kind", lambda x: ";".join(sorted(set(map(str, x))))),
        channels=("channel", lambda x: ";".join(sorted(set(map(str, x))))),
        n_reports=("report_id", "size"),
    )
    fam = s.loc[grouped.index]
    at_stake = benefit_at_stake(fam.reset_index()).to_numpy()
    queue = grouped.assign(
        unit=fam[by].astype(str).to_numpy(),
        list=fam["error_type"].astype(str).to_numpy(),
        p_report_right=fam["error_score"].to_numpy(dtype="float64"),
        benefit_at_stake_rp=at_stake,
    ).reset_index()
    queue["expected_value_rp"] = queue["p_report_right"] * queue["benefit_at_stake_rp"]
    return queue.sort_values(
        ["expected_value_rp", "family_id"], ascending=[False, True], kind="stable", ignore_index=True
    )


def _per_unit(queue: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` visits: shared over units by the worth they hold, the most worth first in each."""
    units = queue.groupby("unit", sort=True)
    worth, sizes = units["expected_value_rp"].sum(), units.size()
    best = units["expected_value_rp"].max().to_numpy()
    order = np.lexsort((np.arange(len(best)), -best))
    alloc = largest_remainder(worth.to_numpy(), n, np.ones(len(sizes), int), sizes.to_numpy(), order)
    quota = pd.Series(alloc, index=sizes.index)
    chosen = units.cumcount().to_numpy() < quota.reindex(queue["unit"]).to_numpy()
    return queue[chosen]


def reports_answered(ranked: pd.DataFrame, reports: pd.DataFrame) -> pd.Series:
    """Per listed family, the reports its visit answers (``;``-joined ids): those whose claim is the
    family's possible error (an objection about a beneficiary, a proposal for a family left out)."""
    first = ranked.drop_duplicates("family_id")
    status = pd.Series(first["error_type"].astype(str).to_numpy(), index=first["family_id"].astype(str).to_numpy())
    fid = reports["family_id"].astype(str)
    claim = reports["kind"].astype(str).map(CLAIMS)
    open_ = reports[(claim == status.reindex(fid).to_numpy()).to_numpy()]
    ids = open_.groupby(open_["family_id"].astype(str))["report_id"].agg(lambda x: ";".join(sorted(map(str, x))))
    return pd.Series(ids.reindex(ranked["family_id"].astype(str)).to_numpy(), index=ranked.index, dtype="string")


def report_outcomes(ranked: pd.DataFrame, results: pd.DataFrame, reports: pd.DataFrame | None = None) -> pd.DataFrame:
    """``report_id, result`` for each report a returned visit answered: ``confirmed`` when the visit
    found what the report claimed (an objection or a meeting's request to drop: not eligible; a
    proposal: eligible), ``rejected`` when it found the opposite, else the visit's result (not
    found, moved). ``reports`` gives each report's kind; without it, the kind the list implies."""
    if "report_ids" not in ranked:
        return pd.DataFrame({"report_id": pd.Series(dtype="string"), "result": pd.Series(dtype="string")})
    latest = results.drop_duplicates("family_id", keep="last").set_index("family_id")["result"]
    listed = ranked.dropna(subset=["report_ids"])
    listed = listed[listed["report_ids"].astype(str) != ""]
    pairs = listed.assign(report_id=listed["report_ids"].astype(str).str.split(";")).explode("report_id")
    pairs["visit"] = latest.reindex(pairs["family_id"]).to_numpy()
    pairs = pairs[pairs["visit"].notna()]
    if reports is not None:
        claims = reports.set_index(reports["report_id"].astype(str))["kind"].astype(str).map(CLAIMS)
        claim = claims.reindex(pairs["report_id"]).to_numpy()
    else:
        claim = pairs["list"].to_numpy()
    wanted = np.where(claim == "inclusion", "not eligible", "eligible")
    other = np.where(claim == "inclusion", "eligible", "not eligible")
    visit = pairs["visit"].to_numpy(dtype=object)
    result = np.where(visit == wanted, "confirmed", np.where(visit == other, "rejected", visit))
    return pd.DataFrame(
        {"report_id": pd.array(pairs["report_id"], dtype="string"), "result": pd.array(result, dtype="string")}
    )
