"""Reports from the community about the synthetic families, with the noise real reports carry.

Objections (sanggah) are likelier against beneficiaries who are truly not eligible, proposals (usul)
for eligible families left out, and village meetings drop or confirm names; but objections are
sometimes spite, proposals sometimes self-interest, and meetings sometimes drop the unconnected.
How reliable a report is depends on its channel: a PKH facilitator knows the family, an anonymous
app user may not. Offices verify a share of the families reported, so that outcomes exist to learn
that reliability from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# how much likelier a true error is reported through each channel than a false one
_CHANNELS = np.array(["cek_bansos", "rt_rw", "pendamping", "call_centre", "other"])
_CHANNEL_SHARE = np.array([0.45, 0.22, 0.15, 0.12, 0.06])
_CHANNEL_RELIABILITY = np.array([0.45, 0.6, 0.85, 0.4, 0.5])  # chance a report on this channel is right
_AGAINST = np.array(["well_off", "assets", "income", "moved", "duplicate", "other"])
_FOR = np.array(["poor", "lost_income", "sick_or_disabled", "elderly_alone", "other"])


def community_reports(family_id, village_code, receives, eligible, ref, seed: int, check_share: float):
    """``community_reports`` (evidence contract), whether each report is right (``report_truth``),
    and which families the office verified because of a report (``check_share`` of those reported)."""
    rng = np.random.default_rng([seed, 14])
    n = len(family_id)
    incl, excl = receives & ~eligible, ~receives & eligible
    parts = [
        _reports(rng, "sanggah", receives, incl, 0.03, 0.25, _AGAINST),
        _reports(rng, "usul", ~receives, excl, 0.025, 0.2, _FOR),
    ]
    # village meetings in a third of the villages, about their beneficiaries
    villages = np.asarray(village_code).astype(str)
    held = np.isin(villages, rng.permutation(np.unique(villages))[: len(np.unique(villages)) // 3])
    discussed = held & receives & (rng.random(n) < 0.5)
    drop = discussed & np.where(incl, rng.random(n) < 0.55, rng.random(n) < 0.06)
    keep = discussed & ~drop
    for kind, mask, right in (("musdes_drop", drop, incl), ("musdes_keep", keep, ~incl)):
        rows = np.flatnonzero(mask)
        parts.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "kind": kind,
                    "channel": "musdes",
                    "grounds": np.where(kind == "musdes_drop", _AGAINST[rng.integers(0, 3, len(rows))], None),
                    "evidence_photo": False,
                    "reporter_in_village": True,
                    "right": right[rows],
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    report_id = pd.array([f"U{seed}-{i:07d}" for i in range(len(out))], dtype="string")
    days = rng.integers(0, 720, len(out))
    reports = pd.DataFrame(
        {
            "report_id": report_id,
            "family_id": pd.array(np.asarray(family_id)[out["row"].to_numpy()], dtype="string"),
            "kind": pd.array(out["kind"].to_numpy(), dtype="string"),
            "channel": pd.array(out["channel"].to_numpy(), dtype="string"),
            "grounds": pd.array(out["grounds"].to_numpy(), dtype="string"),
            "evidence_photo": pd.array(out["evidence_photo"].to_numpy(), dtype="boolean"),
            "reporter_in_village": pd.array(out["reporter_in_village"].to_numpy(), dtype="boolean"),
            "reported_on": (pd.Timestamp(ref) - pd.to_timedelta(days, unit="D")).normalize(),
        }
    )
    reported = np.zeros(n, bool)
    reported[out.loc[out["kind"] != "musdes_keep", "row"].to_numpy()] = True
    checked = reported & (rng.random(n) < check_share)
    return reports, pd.DataFrame({"report_id": report_id, "right": out["right"].to_numpy(bool)}), checked


def _reports(rng, kind: str, about: np.ndarray, error: np.ndarray, base: float, lift: float, grounds) -> pd.DataFrame:
    """Reports of one kind about the families in ``about``: likelier about true errors; the channel
    says how reliable each is, the photo and a reporter from the village a little more."""
    n = len(about)
    channel = rng.choice(len(_CHANNELS), n, p=_CHANNEL_SHARE)
    # a report exists with probability base (+ lift for a true error), weighted so that each
    # channel's reports are right at its reliability
    rel = _CHANNEL_RELIABILITY[channel]
    p_report = np.where(error, base + lift * rel, base * (1 - rel) / 0.5)
    made = about & (rng.random(n) < p_report)
    rows = np.flatnonzero(made)
    right, u = error[rows], lambda: rng.random(len(rows))  # noqa: E731
    return pd.DataFrame(
        {
            "row": rows,
            "kind": kind,
            "channel": _CHANNELS[channel[rows]],
            "grounds": np.where(u() < 0.9, grounds[rng.integers(0, len(grounds), len(rows))], None),
            "evidence_photo": np.where(u() < 0.15, None, u() < np.where(right, 0.5, 0.2)),
            "reporter_in_village": np.where(u() < 0.1, None, u() < np.where(right, 0.75, 0.5)),
            "right": right,
        }
    )
