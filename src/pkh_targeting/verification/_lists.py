"""The lists folder: what `make_lists` writes for a verification round and `read_feedback` reads back.

::

    OUT/ranked.parquet              the chosen visits (`rank_for_verification`), with reasons
    OUT/summary.csv                 expected errors and rupiah per unit and list, against random visits
    OUT/audit.csv                   the audit sample per list and the margin of the rates it estimates
    OUT/field/verifikasi_<regency>  Excel (a sheet per district) and CSV lists for the teams
    OUT/public/uji_publik_<village> public lists of the batch's beneficiaries (with the members table)
    OUT/meeting/musyawarah_<regency> with meeting_size: per village, the likely errors a musyawarah desa discusses first
    OUT/form/pkh_verifikasi.xlsx    with form="odk": the ODK/KoboToolbox form (XLSForm, its XForm, visits.csv)
    OUT/verified_outcomes.csv ...   written by `read_feedback` when the results come back
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from ..exceptions import SchemaError
from ..explain import evidence_summary
from ..outputs import atomic_path, write_csv, write_parquet
from ..records import read_records_of, read_table
from ..scoring import LINKS, REPORTS, links_of, read_manifest, read_scores
from ._audit import audit_margins, audit_share_for_margin
from ._explain_lists import explain_lists
from ._feedback import bad_results, estimate_errors, outcomes_for_retraining, read_results
from ._field_lists import VISIT_COLUMNS, write_field_lists, write_public_lists
from ._forms import write_field_form
from ._ranking import meeting_agenda, rank_for_verification, summarize_lists
from ._reports import report_outcomes, reports_answered

RANKED = "ranked.parquet"
SUMMARY = "summary.csv"
AUDIT = "audit.csv"


@dataclass
class Lists:
    """A verification round as written by `make_lists`."""

    ranked: pd.DataFrame
    summary: pd.DataFrame
    audit: pd.DataFrame
    paths: list = field(default_factory=list)
    agenda: pd.DataFrame | None = None  # with meeting_size: the village meetings' families

    @property
    def unreached(self) -> int:
        """Units (per list) with candidates that the budget gave no visit."""
        return int((self.summary["visits"] == 0).sum()) if len(self.summary) else 0

    @property
    def unexplained(self) -> int:
        """Listed families without reasons (explained by passing the model and the members)."""
        return int(self.ranked["reasons"].isna().sum())


def make_lists(
    scores,
    families,
    budget: int,
    out,
    *,
    members=None,
    public_lists: bool = True,
    form: str | None = None,
    model=None,
    links=None,
    language: str = "id",
    reference_date=None,
    audit_margin: float | None = None,
    confidence: float = 0.95,
    meeting_size: int | None = None,
    exclude=None,
    **ranking,
) -> Lists:
    """Rank a scored batch for ``budget`` visits and write the lists folder ``out`` (see the module).

    Parameters
    ----------
    scores : path
        ``scores.parquet`` written by `score_files` (a folder with its manifest, or a file).
    families, members : path or DataFrame
        The batch's records: names and addresses for the visit; with ``members``, public lists of
        the whole batch (unless ``public_lists=False``).
    form : {"odk"}, optional
        Also write the visit as an ODK/KoboToolbox form (`write_field_form`).
    model : TargetingModel, optional
        The model that scored the batch: listed families without reasons get them
        (`explain_lists`), on ``reference_date`` or the one the scores' manifest records.
    links : path or DataFrame, optional
        The batch's linked registry records, for a model trained with them; by default the
        ``links.parquet`` that `score_files` wrote next to ``scores``, if there is one (and its
        ``community_reports.parquet`` likewise). The field lists get an evidence column from them.
    audit_margin : float, optional
        Size the audit sample by precision instead of ``audit_share``: the sample that estimates
        leakage and undercoverage within this margin at ``confidence`` (`audit_share_for_margin`).
        ``audit.csv`` gives the margins the sample gives, whichever way it was sized.
    meeting_size : int, optional
        Also write, per village, the ``meeting_size`` likely errors (both lists) its musyawarah desa
        should discuss first (`meeting_agenda`), with reasons and evidence, to ``meeting/``.
    exclude : list-like of family IDs, optional
        Families left out of the round (the settled cases of `pkh_targeting.cases.list_round`): the
        ranking, the audit sample and its margins cover the rest of the batch.
    **ranking
        For `rank_for_verification`: ``by``, ``audit_share``, ``inclusion_share``, ``priority``, ``seed``.
    """
    if model is not None and members is None:
        raise ValueError("explaining the listed families needs their members too (members=).")
    if form not in (None, "odk"):
        raise ValueError(f"form must be 'odk' or None, got {form!r}.")
    out, by = Path(out), ranking.get("by", "district_code")
    s = scores if isinstance(scores, pd.DataFrame) else read_scores(scores)
    if exclude is not None:
        s = s[~s["family_id"].isin(pd.Series(exclude, dtype="string"))].reset_index(drop=True)
    if audit_margin is not None:
        share = ranking.get("inclusion_share", 0.5)
        ranking["audit_share"] = audit_share_for_margin(
            s, budget, audit_margin, confidence=confidence, inclusion_share=share
        )
    ranked = rank_for_verification(s, budget, **ranking)
    links = _batch_file(scores, LINKS) if links is None else links
    decorate = partial(_with_evidence, scores, model, families, members, links, language, reference_date)
    ranked = decorate(ranked)
    public = members is not None and public_lists
    fam = _visit_records(families, ranked["family_id"], whole=public)
    paths = write_field_lists(ranked, fam, out / "field", language=language)
    agenda = None
    if meeting_size is not None:
        agenda = decorate(meeting_agenda(s, meeting_size))
        meeting_fam = fam if public else _visit_records(families, agenda["family_id"], whole=False)
        paths += write_field_lists(agenda, meeting_fam, out / "meeting", language=language, meeting=True)
    if form == "odk":
        paths += write_field_form(ranked, fam, out / "form")
    write_parquet(ranked, out / RANKED, index=False)
    summary = summarize_lists(ranked, s, by=by)
    write_csv(summary, out / SUMMARY)
    audit = audit_margins(ranked, s, confidence=confidence)
    write_csv(audit, out / AUDIT)
    if public:
        mem = members if isinstance(members, pd.DataFrame) else read_table(members, "members")
        paths += write_public_lists(fam, mem, out / "public")
    return Lists(ranked, summary, audit, paths, agenda)


def _with_evidence(scores, model, families, members, links, language, reference_date, ranked) -> pd.DataFrame:
    """Listed families with reasons (from ``model``, where they have none), the reports their visit
    answers and the evidence of other registries, where the batch came with them."""
    if model is not None:
        reference_date = reference_date or read_manifest(scores).get("reference_date")
        evidence = {"links": links, "community_reports": _batch_file(scores, REPORTS)}
        ranked = explain_lists(
            ranked, model, families, members, reference_date=reference_date, language=language, **evidence
        )
    reports = _batch_file(scores, REPORTS)
    if reports is not None:
        ranked["report_ids"] = reports_answered(ranked, pd.read_parquet(reports))
    if links is not None:
        ranked["evidence"] = evidence_summary(
            links_of(links, ranked["family_id"]), ranked["family_id"], language
        ).to_numpy()
    return ranked


def _batch_file(scores, name: str):
    """An evidence file `score_files` wrote next to a scored batch's ``scores.parquet``, or None."""
    if isinstance(scores, pd.DataFrame):
        return None
    path = Path(scores).parent / name
    return path if path.is_file() else None


def _visit_records(families, family_ids, *, whole: bool) -> pd.DataFrame:
    """The families table, whole (public lists show the batch) or only what the visits need."""
    if isinstance(families, pd.DataFrame):
        return families
    return (
        read_table(families, "families") if whole else read_records_of(families, "families", family_ids, VISIT_COLUMNS)
    )


def result_files(results) -> list[Path]:
    """The returned lists among ``results``: files, and the .xlsx and .csv files of folders, in name order."""
    paths = [Path(results)] if isinstance(results, (str, Path)) else [Path(p) for p in results]
    files = []
    for p in paths:
        found = sorted(f for f in p.iterdir() if f.suffix.lower() in (".xlsx", ".csv")) if p.is_dir() else [p]
        files += [f for f in found if not f.name.startswith(("~$", "."))]  # Excel's lock files
    if not files:
        raise FileNotFoundError(f"no returned lists (.xlsx or .csv) in {', '.join(map(str, paths))}.")
    return files


def read_result_files(results) -> tuple[list[tuple[Path, pd.DataFrame]], list[dict]]:
    """Each returned list or form export among ``results`` (`result_files`) read by `read_results`, and
    the files that could not be read (``file, problem``): named and skipped, never stopping the others."""
    read, unreadable = [], []
    for path in result_files(results):
        try:
            read.append((path, read_results(path)))
        except (SchemaError, ValueError, OSError, UnicodeError, zipfile.BadZipFile) as exc:
            unreadable.append({"file": str(path), "problem": str(exc).strip().splitlines()[0]})
    return read, unreadable


def read_ranked(lists) -> pd.DataFrame:
    """The visits of a lists folder written by `make_lists`."""
    return pd.read_parquet(Path(lists) / RANKED)


def _json_ready(value):
    """``value`` with NaN as None, so that the file is valid JSON (``null``)."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return None if isinstance(value, float) and value != value else value


def read_feedback(lists, results, out=None) -> tuple[dict, pd.DataFrame]:
    """Read returned lists (files, or folders of them) against the folder ``lists``; write
    ``verified_outcomes.csv`` (for retraining), ``bad_results.csv``, ``feedback.json`` and, for lists
    whose visits answer community reports, ``report_outcomes.csv`` (`report_outcomes`) to ``out``
    (``lists`` by default).

    A file that cannot be read is skipped and named in ``estimates["unreadable"]``.

    Returns
    -------
    estimates : dict
        `estimate_errors` of the results, and ``unreadable``: the files skipped, with the problem.
    bad : DataFrame
        Results not understood (never guessed).
    """
    out = Path(out or lists)
    read, unreadable = read_result_files(results)
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in ("family_id", "result_raw", "result", "language")})
    res = pd.concat([r for _, r in read] or [empty], ignore_index=True)
    ranked = read_ranked(lists)
    est = {**estimate_errors(ranked, res), "unreadable": unreadable}
    write_csv(outcomes_for_retraining(res), out / "verified_outcomes.csv")
    if "report_ids" in ranked:
        write_csv(report_outcomes(ranked, res), out / "report_outcomes.csv")
    bad = bad_results(res)
    write_csv(bad, out / "bad_results.csv")
    with atomic_path(out / "feedback.json") as tmp:
        tmp.write_text(json.dumps(_json_ready(est), indent=1, allow_nan=False))
    return est, bad
