"""How PKH beneficiary status arises, with the mechanisms that produce targeting errors."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _rank_within(groups: np.ndarray, score: np.ndarray) -> np.ndarray:
    """0-based rank of ``score`` (ascending) within each group."""
    order = np.lexsort((score, groups))
    ranks = np.empty(len(score), dtype=np.int64)
    ranks[order] = pd.Series(groups[order]).groupby(groups[order]).cumcount().to_numpy()
    return ranks


def assign_beneficiaries(
    t: pd.DataFrame,
    rng: np.random.Generator,
    *,
    coverage: float,
    welfare_change_sd: float,
    pmt_noise_sd: float,
    discretion_share: float,
    capture_rate: float,
    graduation_processed: float,
    desil_cutoff: int,
) -> pd.DataFrame:
    """Beneficiary status from a stale, noisy ranking, registration gaps, discretion and capture.

    ``t`` holds per family: ``w`` (welfare latent), ``regency``, ``village``, ``urban``, ``remote``,
    ``eligible``, ``has_component``, ``only_new_component``, ``aged_out``, ``desil``,
    ``elderly_head``, ``single``, ``civil_servant``, ``vulnerable``.
    Returns ``receives_pkh``, ``registered``, ``pbi_old`` and ``error_mechanism``.
    """
    n = len(t)
    w_old = t.w.to_numpy() - rng.normal(0, welfare_change_sd, n)
    old_poor = w_old <= np.quantile(w_old, desil_cutoff / 10)
    old_component = (t.has_component.to_numpy() & ~t.only_new_component.to_numpy()) | (
        ~t.has_component.to_numpy() & t.aged_out.to_numpy()
    )
    # Registration in the earlier registry round: the poor more often, but urban, elderly-headed,
    # single-person and remote families are missed more (Noriega-Campero et al. 2020).
    reg_score = 1.6 - 1.1 * w_old - 0.8 * t.urban - 0.6 * t.elderly_head - 0.6 * t.single - 0.5 * t.remote
    registered = rng.random(n) < _logistic(reg_score.to_numpy())
    # The earlier proxy-means ranking: old welfare seen through a noisy PMT.
    pmt_old = w_old + rng.normal(0, pmt_noise_sd, n)
    candidate = registered & old_component
    regency = t.regency.to_numpy()
    # Quotas per regency follow the old poverty map.
    quota = pd.Series(old_poor).groupby(regency).mean()
    quota = (quota / quota.mean() * coverage * pd.Series(1, index=regency).groupby(level=0).size()).round()
    score = np.where(candidate, pmt_old, np.inf)
    rank = _rank_within(regency, score)
    selected = candidate & (rank < quota.reindex(regency).to_numpy())

    # Local discretion: a share of slots handed by village officials to families they pick.
    village = t.village.to_numpy()
    swap_out = selected & (rng.random(n) < discretion_share)
    pick_w = np.where(registered & ~selected, np.exp(-0.4 * t.w.to_numpy() + 0.8 * t.vulnerable), 0.0)
    n_swap = pd.Series(swap_out).groupby(village).sum()
    key = -np.log(rng.random(n)) / np.maximum(pick_w, 1e-12)  # weighted sampling without replacement
    swap_rank = _rank_within(village, key)
    swap_in = (pick_w > 0) & (swap_rank < n_swap.reindex(village).to_numpy())
    receives = (selected & ~swap_out) | swap_in

    # Capture: families with a civil servant or ties to officials.
    connected = t.civil_servant.to_numpy() | (rng.random(n) < 0.02)
    captured = connected & ~receives & (rng.random(n) < capture_rate)
    receives |= captured
    # Graduation: beneficiaries who lost every component leave if the office processes it.
    lost = receives & ~t.has_component.to_numpy()
    graduated = lost & (rng.random(n) < graduation_processed)
    receives &= ~graduated

    eligible = t.eligible.to_numpy()
    improved = ~old_poor | (t.desil.to_numpy() > desil_cutoff)
    inclusion = receives & ~eligible
    exclusion = ~receives & eligible
    mech = np.full(n, None, dtype=object)
    mech[inclusion] = np.select(
        [
            captured[inclusion],
            swap_in[inclusion],
            ~t.has_component.to_numpy()[inclusion],
            (old_poor & improved)[inclusion],
        ],
        ["capture", "local_discretion", "graduation_not_processed", "stale_ranking"],
        default="proxy_means_error",
    )
    mech[exclusion] = np.select(
        [
            ~registered[exclusion],
            ~old_component[exclusion],
            ~old_poor[exclusion],
            swap_out[exclusion],
            candidate[exclusion] & (pmt_old > np.quantile(pmt_old, 0.4))[exclusion],
        ],
        ["never_registered", "stale_ranking", "stale_ranking", "local_discretion", "proxy_means_error"],
        default="quota",
    )
    pbi_old = rng.random(n) < _logistic(-1.1 - 1.8 * w_old + 1.5 * receives)
    return pd.DataFrame(
        {
            "receives_pkh": receives,
            "registered": registered,
            "pbi_old": pbi_old,
            "sembako": receives | (registered & (rng.random(n) < _logistic(-1.5 - 1.5 * w_old))),
            "error_mechanism": mech,
        }
    )


def outcome_samples(
    receives,
    eligible,
    rng,
    *,
    verification_share_beneficiaries: float,
    complaint_rate: float,
    audit_share: float,
    field_error_rate: float,
    survey_share: float,
):
    """Which families were field-verified (not at random) and which were surveyed (at random)."""
    n = len(receives)
    complaint = ~receives & (rng.random(n) < complaint_rate * np.where(eligible, 3.0, 1.0))
    audit = rng.random(n) < audit_share
    verified = (receives & (rng.random(n) < verification_share_beneficiaries)) | complaint | audit
    flip = rng.random(n) < field_error_rate
    outcome = np.where(flip, ~eligible, eligible)
    surveyed = rng.random(n) < survey_share
    return (
        verified,
        outcome,
        surveyed,
        np.select([audit, complaint, receives], ["audit", "complaint", "beneficiary_review"], ""),
    )
