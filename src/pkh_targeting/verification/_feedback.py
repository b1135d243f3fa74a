"""Feedback from the field: read returned lists and form submissions, measure the ranking, estimate
error rates."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import SchemaError
from ..records.keys import normalize_text
from ._field_lists import HEADERS, RESULT_CODES
from ._forms import RESULT_CHOICES
from ._ranking import ERROR_TYPES

# accepted spellings of each result: both languages of the lists, and the choice names of the form
_RESULTS = {
    **{code: canonical for codes in RESULT_CODES.values() for code, canonical in zip(codes, RESULT_CODES["en"])},
    **{canonical.replace(" ", "_"): canonical for canonical in RESULT_CODES["en"]},
}
_EXPECTED = {**{lang: ", ".join(codes) for lang, codes in RESULT_CODES.items()}, "form": ", ".join(RESULT_CHOICES)}
# the fields of a form submission, by the last part of the export's column name (ODK Central joins
# group names with "-", KoboToolbox with "/")
_SUBMISSION_FIELDS = {
    "family_id": "family_id",
    "result": "result_raw",
    "dwelling_photo": "photo",
    "location": "location",
    "Latitude": "latitude",
    "Longitude": "longitude",
    "_location_latitude": "latitude",
    "_location_longitude": "longitude",
    "SubmissionDate": "submitted",
    "_submission_time": "submitted",
    "visit_date": "visit_date",
    "officer_name": "officer",
    "witness_name": "witness",
    "grounds": "grounds",
    "new_address": "new_address",
    "minutes": "minutes",
    "instanceID": "instance_id",
    "_uuid": "instance_id",
    "ReviewState": "review_state",
    "_validation_status": "review_state",
}
# a reviewer's verdict on a submission, as ODK Central (ReviewState) and KoboToolbox (_validation_status)
# export it: a rejected submission is no outcome, one with issues is held back until it is settled
# (by their letters alone: "hasIssues", "validation_status_on_hold", "On Hold")
_REVIEW = {
    "rejected": "rejected", "validationstatusnotapproved": "rejected", "notapproved": "rejected",
    "hasissues": "has_issues", "validationstatusonhold": "has_issues", "onhold": "has_issues",
    "approved": "approved", "validationstatusapproved": "approved", "edited": "edited", "received": "received",
}  # fmt: skip
# columns a returned list may carry besides its own (written in by the team), by language
_LIST_EXTRAS = {
    "visit_date": {"id": "Tanggal kunjungan", "en": "Visit date"},
    "officer": {"id": "Petugas", "en": "Officer"},
}


def _header_frame(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rows under the header line of a returned list (sheets start with a few note lines)."""
    ids = {h["family_id"] for h in HEADERS.values()}
    for i in range(min(len(raw), 20)):
        row = [str(v).strip() for v in raw.iloc[i].tolist()]
        if ids & set(row):
            body = raw.iloc[i + 1 :].copy()
            body.columns = row
            return body
    raise SchemaError(f"{source}: no header row with a family ID column ({' / '.join(sorted(ids))}).")


def _submissions(raw: pd.DataFrame) -> pd.DataFrame | None:
    """The visits of an ODK Central or KoboToolbox submissions export, latest submission last; None
    if ``raw`` is not one."""
    fields = {}
    for col in raw.columns:
        last = str(col).replace("/", "-").split("-")[-1]
        key = (
            last if last in _SUBMISSION_FIELDS else next((k for k in _SUBMISSION_FIELDS if str(col).endswith(k)), None)
        )
        if key and _SUBMISSION_FIELDS[key] not in fields:
            fields[_SUBMISSION_FIELDS[key]] = col
    if not {"family_id", "result_raw"} <= fields.keys():
        return None
    out = pd.DataFrame({name: raw[col].astype("string").str.strip() for name, col in fields.items()})
    out["family_id"] = normalize_text(out["family_id"])
    out["language"] = "form"
    out["source_row"] = out["instance_id"] if "instance_id" in out else pd.Series(raw.index + 2, dtype="string")
    if "review_state" in out:
        out["review_state"] = out["review_state"].str.lower().str.replace(r"[^a-z]", "", regex=True).map(_REVIEW)
    if "submitted" in out:
        out = out.sort_values("submitted", kind="stable")
    return out.reset_index(drop=True)


def read_results(path) -> pd.DataFrame:
    """Family IDs and visit results from a returned list (the Excel workbook, all sheets, or the CSV),
    or from the submissions export (CSV) of the ODK/KoboToolbox form (`write_field_form`), with the
    photo's file name and the location where given. A family visited twice keeps both rows, the
    latest submission last: it is the one that counts."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
        frames = [(name, _header_frame(df, f"{path}:{name}")) for name, df in sheets.items()]
    elif path.suffix.lower() == ".csv":
        raw = csv_cells(path)
        submitted = _submissions(raw.iloc[1:].set_axis(raw.iloc[0].tolist(), axis=1)) if len(raw) else None
        if submitted is not None:
            submitted["result"] = submitted["result_raw"].str.lower().map(_RESULTS)
            return submitted.dropna(subset=["family_id"])
        frames = [("", _header_frame(raw, str(path)))]
    else:
        raise SchemaError(f"{path}: results must be a returned .xlsx or .csv list.")
    out = pd.concat([_list_rows(f, sheet, path) for sheet, f in frames], ignore_index=True)
    out = out.dropna(subset=["family_id"])
    out["result"] = out["result_raw"].str.lower().map(_RESULTS)
    return out


def csv_cells(path: Path) -> pd.DataFrame:
    """A returned CSV as text cells, as Excel saves it anywhere: UTF-8 or Windows-1252, separated by
    ``,``, ``;`` (an Indonesian-locale Excel) or tabs; note lines above the header are kept as rows."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):  # latin-1 decodes any byte
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = "\n".join(text.splitlines()[:30])
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:  # one column, or nothing to tell by
        sep = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    width = max((len(r) for r in rows), default=0)
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype="string")
    return frame.replace("", pd.NA)


def _list_rows(f: pd.DataFrame, sheet: str, path: Path) -> pd.DataFrame:
    """The results of one sheet of a returned list, each with its place in the file (sheet and row)."""
    lang = next(k for k, h in HEADERS.items() if h["family_id"] in f.columns)
    h = HEADERS[lang]
    if h["result"] not in f.columns:
        raise SchemaError(f"{path}: the list has no '{h['result']}' column.")
    extras = {name: f[by_lang[lang]].astype("string").str.strip() for name, by_lang in _LIST_EXTRAS.items()
              if by_lang[lang] in f.columns}  # fmt: skip
    if h["notes"] in f.columns:
        extras["minutes"] = f[h["notes"]].astype("string").str.strip()
    return pd.DataFrame(
        {
            "family_id": normalize_text(f[h["family_id"]]),
            "result_raw": f[h["result"]].astype("string").str.strip(),
            "language": lang,
            **extras,
            "source_row": [f"{sheet}:{i + 1}" if sheet else str(i + 1) for i in f.index],
        }
    )


def counted_results(results: pd.DataFrame) -> pd.DataFrame:
    """The results that are outcomes: without the submissions a reviewer rejected or held back."""
    if "review_state" not in results:
        return results
    return results[~results["review_state"].isin(["rejected", "has_issues"]).to_numpy()]


def estimate_errors(ranked: pd.DataFrame, results: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Realised precision of the ranked visits, and Horvitz-Thompson estimates of leakage and
    undercoverage from the ranked visits plus the random audit sample, with 95% intervals from
    ``n_boot`` draws of each list's audit error share (Jeffreys posterior).

    Visits with results "not found" or "moved" are counted and left out of the estimates.
    ``errors_estimated`` and ``families_estimated`` are, per list, the estimated number of families
    with the list's error and of the families the list draws from (ranked, or not and weighted by
    the inverse of their selection probability).
    """
    results = counted_results(results)
    latest = results.drop_duplicates("family_id", keep="last")  # a family visited twice: its latest visit
    r = ranked.merge(latest[["family_id", "result"]], on="family_id", how="left")
    out = {"bad_results": int(len(bad_results(results))), "visited_twice": int(results["family_id"].duplicated().sum())}
    known = r["result"].isin(["eligible", "not eligible"])
    out["visited"] = int(r["result"].notna().sum())
    out["not_found_or_moved"] = int(r["result"].isin(["not found", "moved"]).sum())
    err = np.where(r["list"] == "inclusion", r["result"] == "not eligible", r["result"] == "eligible")
    drawn_at_random = r["audit"] | (r["explore"].fillna(False).astype(bool) if "explore" in r else False)
    for t in ("inclusion", "exclusion"):
        m = (r["list"] == t) & ~drawn_at_random & known
        out[f"{t}_precision_ranked"] = float(err[m].mean()) if m.any() else None
        out[f"{t}_ranked_with_result"] = int(m.sum())
    rng = np.random.default_rng(seed)
    audit = {t: r.index[(r["list"] == t) & r["audit"] & known].to_numpy() for t in ERROR_TYPES}

    ranked_errors, ranked_known, rest = {}, {}, {}
    for t in ERROR_TYPES:
        rank = (r["list"] == t) & ~drawn_at_random & known
        ranked_errors[t], ranked_known[t] = float(err[rank].sum()), float(rank.sum())
        p_audit = r.loc[(r["list"] == t) & r["audit"], "selection_probability"]
        n_drawn = int(((r["list"] == t) & r["audit"]).sum())
        rest[t] = n_drawn / p_audit.iloc[0] if len(p_audit) and p_audit.iloc[0] > 0 else 0.0  # families not ranked

    def totals(shares: dict) -> dict:
        """Errors and families per list: ranked ones observed, the rest from the audit's error share."""
        return {t: (ranked_errors[t] + rest[t] * shares[t], ranked_known[t] + rest[t]) for t in ERROR_TYPES}

    def rates(tot):
        (incl_err, n_ben), (excl_err, _) = tot["inclusion"], tot["exclusion"]
        eligible = n_ben - incl_err + excl_err
        return incl_err / n_ben, excl_err / eligible

    sizes = {t: len(audit[t]) for t in ERROR_TYPES}
    drawn = {t: int(((r["list"] == t) & r["audit"]).sum()) for t in ERROR_TYPES}
    out["audit_with_result"], out["audit_drawn"] = sizes, drawn
    if any(drawn[t] and not sizes[t] for t in drawn) or not any(sizes.values()):
        # an estimate needs audit results from every list that drew an audit sample
        none = {f"{k}{s}": None for k in ("leakage", "undercoverage") for s in ("", "_low", "_high")}
        return {**out, **none, "errors_estimated": None, "families_estimated": None}
    found = {t: int(err[audit[t]].sum()) for t in ERROR_TYPES}
    tot = totals({t: found[t] / sizes[t] if sizes[t] else 0.0 for t in ERROR_TYPES})
    out["errors_estimated"] = {t: float(tot[t][0]) for t in ERROR_TYPES}
    out["families_estimated"] = {t: float(tot[t][1]) for t in ERROR_TYPES}
    est = rates(tot)
    # each list's audit error share drawn from its Jeffreys posterior, Beta(k + 1/2, n - k + 1/2): on
    # audits of a few dozen visits its intervals keep their coverage, the percentile bootstrap's do not
    draws = {t: rng.beta(found[t] + 0.5, sizes[t] - found[t] + 0.5, n_boot) for t in ERROR_TYPES}
    boots = np.array([rates(totals({t: draws[t][b] for t in ERROR_TYPES})) for b in range(n_boot)])
    for j, name in enumerate(("leakage", "undercoverage")):
        out[name] = float(est[j])
        out[f"{name}_low"], out[f"{name}_high"] = (float(np.nanquantile(boots[:, j], q)) for q in (0.025, 0.975))
    return out


def outcomes_for_retraining(results: pd.DataFrame) -> pd.DataFrame:
    """``family_id, verified_eligible`` for the visits with a usable result, to merge into the
    families table before the next `TargetingModel.fit`."""
    latest = counted_results(results).drop_duplicates("family_id", keep="last")
    ok = latest[latest["result"].isin(["eligible", "not eligible"])]
    evidence = [c for c in ("photo", "latitude", "longitude", "submitted") if c in ok]  # from a form
    return pd.DataFrame(
        {
            "family_id": ok["family_id"].to_numpy(),
            "verified_eligible": (ok["result"] == "eligible").to_numpy(),
            **{c: ok[c].to_numpy() for c in evidence},
        }
    )


def bad_results(results: pd.DataFrame) -> pd.DataFrame:
    """Rows whose result is filled but not one of the accepted values (reported, never guessed)."""
    bad = results[results["result_raw"].notna() & (results["result_raw"] != "") & results["result"].isna()]
    language = bad["language"] if "language" in bad else pd.Series("en", index=bad.index)
    return bad.assign(expected=language.map(_EXPECTED))
