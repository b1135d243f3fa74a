"""Reasons for the listed families that have none, from only their records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import SchemaError
from ..records import records_of
from ..scoring import links_of


def explain_lists(
    ranked: pd.DataFrame,
    model,
    families,
    members,
    *,
    links=None,
    community_reports=None,
    reference_date=None,
    language: str = "id",
):
    """``ranked`` with reasons for its families that have none: those scored with ``reasons="none"``,
    or beyond what ``reasons="auto"`` explains (`reachable`: the audit sample, larger budgets).

    Only their records are taken from the batch (``families``, ``members``: the tables, or their files,
    of which only these rows are read) and scored again, with reasons, by ``model``, which must be the
    model that scored them, on the same ``reference_date`` (the scores manifest records it), with the
    batch's ``links`` and ``community_reports`` (the files `score_files` wrote, or tables) for a model
    trained with them.

    Raises
    ------
    ValueError
        ``model`` is not the model that scored the lists.
    SchemaError
        Families missing from the files, or scored differently: not the scored batch, or another date.
    """
    need = ranked["reasons"].isna().to_numpy()
    if not need.any():
        return ranked
    versions = sorted(ranked.loc[need, "model_version"].astype(str).unique())
    if versions != [model.model_version]:
        raise ValueError(f"the lists were scored by {', '.join(versions)}, not by {model.model_version}.")
    ids = ranked.loc[need, "family_id"]
    fam, mem = (records_of(records, t, ids) for records, t in ((families, "families"), (members, "members")))
    evidence = {"links": links, "community_reports": community_reports}
    kw = {k: links_of(v, ids) for k, v in evidence.items() if v is not None}
    again = model.score_records(fam, mem, reference_date=reference_date, reasons="all", language=language, **kw).scores
    again = again.set_index("family_id").reindex(ids)
    lost = ids[again["error_score"].isna().to_numpy()]
    if len(lost):
        raise SchemaError(f"{len(lost)} families on the lists are not valid in {families}, e.g. {lost.iloc[0]!r}.")
    moved = np.abs(again["error_score"].to_numpy() - ranked.loc[need, "error_score"].to_numpy()) > 1e-9
    if moved.any():
        raise SchemaError(
            f"{moved.sum()} families score differently from the lists, e.g. {ids[moved].iloc[0]!r}: give the "
            "files and the reference date the batch was scored with."
        )
    out = ranked.copy()
    out.loc[need, "reasons"] = again["reasons"].to_numpy()
    return out
