"""How PKH beneficiary status arises, with the mechanisms that produce targeting errors."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Mechanisms:
    """How beneficiary status and the outcome columns arise in a synthetic registry.

    Attributes
    ----------
    coverage : float, default=0.235
        Beneficiary quota as a share of families.
    welfare_change_sd : float, default=0.45
        How much welfare changed since the ranking that chose beneficiaries (latent SD units).
    pmt_noise_sd : float, default=0.6
        Error of that earlier proxy-means ranking.
    discretion_share, capture_rate, graduation_processed : float
        Share of slots re-assigned by village officials (0.12); chance that a connected family gets
        in (0.25); chance that a beneficiary without components is graduated (0.5).
    verification_share, complaint_rate, audit_share, field_error_rate : float
        Field verification: share of beneficiaries verified (0.25), complaint rate of
        non-beneficiaries (0.03, three times higher when eligible), random audit share (0.01), and
        misjudgement rate (0.05).
    survey_share : float, default=0.04
        Random share of families with measured consumption.
    report_check_share : float, default=0.4
        Share of the families named in an objection, a proposal or a meeting's request to drop them
        that the office verifies.
    death_rate : float, default=0.06
        Share of members aged 70 or more who died since the registry round (a sixth of it at 50-69,
        a fortieth below); the registry still lists them, Dukcapil records most of the deaths.
    """

    coverage: float = 0.235
    welfare_change_sd: float = 0.45
    pmt_noise_sd: float = 0.6
    discretion_share: float = 0.12
    capture_rate: float = 0.25
    graduation_processed: float = 0.5
    verification_share: float = 0.25
    complaint_rate: float = 0.03
    audit_share: float = 0.01
    field_error_rate: float = 0.05
    survey_share: float = 0.04
    death_rate: float = 0.06
    report_check_share: float = 0.4


def assign_beneficiaries(t: pd.DataFrame, rng: np.random.Generator, m: Mechanisms, desil_cutoff: int) -> pd.DataFrame:
    """Beneficiary status from a stale, noisy ranking, registration gaps, discretion and capture.

    ``t`` holds per family: ``w`` (welfare latent), ``regency``, ``village``, ``urban``, ``remote``,
    ``eligible``, ``has_component``, ``only_new_component``, ``aged_out``, ``desil``,
    ``elderly_head``, ``single``, ``civil_servant``, ``vulnerable``.
    Returns ``receives_pkh``, ``registered``, ``pbi_old`` and ``error_mechanism``.
    """
    n = len(t)
    old = _earlier_round(t, rng, m.coverage, m.welfare_change_sd, m.pmt_noise_sd, desil_cutoff)
    receives, swap_out, swap_in, captured = _discretion_capture_graduation(
        t, rng, old["selected"], old["registered"], m.discretion_share, m.capture_rate, m.graduation_processed
    )
    mech = _mechanisms(t, receives, old, swap_out, swap_in, captured, desil_cutoff)
    w_old, registered = old["w_old"], old["registered"]
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


def _earlier_round(t, rng, coverage, welfare_change_sd, pmt_noise_sd, desil_cutoff) -> dict:
    """The round that chose today's beneficiaries: old welfare, registration, a noisy proxy-means
    ranking and regency quotas from the old poverty map."""
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
    return {
        "w_old": w_old,
        "old_poor": old_poor,
        "old_component": old_component,
        "registered": registered,
        "pmt_old": pmt_old,
        "candidate": candidate,
        "selected": selected,
    }


def _discretion_capture_graduation(t, rng, selected, registered, discretion_share, capture_rate, graduated_share):
    """Who receives after village officials swap slots, connected families get in, and graduation."""
    n = len(t)
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
    graduated = lost & (rng.random(n) < graduated_share)
    receives &= ~graduated
    return receives, swap_out, swap_in, captured


def _mechanisms(t, receives, old: dict, swap_out, swap_in, captured, desil_cutoff) -> np.ndarray:
    """The mechanism behind each inclusion and exclusion error (None for the others)."""
    eligible = t.eligible.to_numpy()
    old_poor, pmt_old = old["old_poor"], old["pmt_old"]
    improved = ~old_poor | (t.desil.to_numpy() > desil_cutoff)
    inclusion = receives & ~eligible
    exclusion = ~receives & eligible
    mech = np.full(len(t), None, dtype=object)
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
            ~old["registered"][exclusion],
            ~old["old_component"][exclusion],
            ~old_poor[exclusion],
            swap_out[exclusion],
            old["candidate"][exclusion] & (pmt_old > np.quantile(pmt_old, 0.4))[exclusion],
        ],
        ["never_registered", "stale_ranking", "stale_ranking", "local_discretion", "proxy_means_error"],
        default="quota",
    )
    return mech


def outcome_samples(receives, eligible, rng, m: Mechanisms):
    """Which families were field-verified (not at random) and which were surveyed (at random)."""
    n = len(receives)
    complaint = ~receives & (rng.random(n) < m.complaint_rate * np.where(eligible, 3.0, 1.0))
    audit = rng.random(n) < m.audit_share
    verified = (receives & (rng.random(n) < m.verification_share)) | complaint | audit
    flip = rng.random(n) < m.field_error_rate
    outcome = np.where(flip, ~eligible, eligible)
    surveyed = rng.random(n) < m.survey_share
    return (
        verified,
        outcome,
        surveyed,
        np.select([audit, complaint, receives], ["audit", "complaint", "beneficiary_review"], ""),
    )
