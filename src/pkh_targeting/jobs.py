"""The jobs the command line runs, each a short chain of library calls; `demo` runs them in order.

A job reads what it is given (files or tables), calls the library and returns what it did; it
prints nothing. ``pkh-targeting train|score|...`` parse their options, call one job and print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .cases import list_round, open_ledger, verified_outcomes, with_verified_outcomes
from .linkage import LinkResult, link_records
from .modeling import TargetingModel
from .outputs import atomic_path, write_csv, write_parquet
from .records import ValidationResult, read_records, validate_records
from .records.contract import EVIDENCE_TABLES
from .records.evidence import read_evidence
from .reporting import write_report
from .scoring import BatchSummary, score_dataset, score_files
from .synth import generate_registry
from .tracking import Store, TrainingRecord, configure, load_model, log_scoring, log_training
from .verification import Lists

DEMO_MODEL = "pkh-targeting-demo"
DEMO_VISITS = 200


def _records(families, members) -> tuple[pd.DataFrame, pd.DataFrame]:
    if isinstance(families, pd.DataFrame) and isinstance(members, pd.DataFrame):
        return families, members
    return read_records(families, members)


def _evidence(table, path):
    """An evidence table given as a DataFrame or a file (None: not given)."""
    return path if path is None or isinstance(path, pd.DataFrame) else read_evidence(path, table)


def link(families, members, registry_records, out, *, reference_date=None, **linker_params) -> LinkResult:
    """Link registry records to members (`link_records`) and write ``out/links.parquet``,
    ``out/link_summary.csv``, ``out/evidence_quarantine.csv`` and the trained ``out/linker.json``."""
    fam, mem = _records(families, members)
    res = link_records(
        mem, fam, _evidence("registry_records", registry_records), reference_date=reference_date, **linker_params
    )
    out = Path(out)
    write_parquet(res.links, out / "links.parquet", index=False)
    write_csv(res.summary(), out / "link_summary.csv")
    write_csv(res.quarantine, out / "evidence_quarantine.csv")
    with atomic_path(out / "linker.json") as tmp:
        tmp.write_text(res.linker.to_json())
    return res


@dataclass
class Trained:
    """A trained model, where it was saved, and its run (None without tracking)."""

    model: TargetingModel
    path: Path
    record: TrainingRecord | None = None


def train(
    families,
    members,
    *,
    config=None,
    out="models/latest",
    store: Store | None = None,
    register: str | None = None,
    holdout: tuple | None = None,
    reference_date=None,
    registry_records=None,
    community_reports=None,
    cases=None,
) -> Trained:
    """Fit a `TargetingModel` on the records (files or tables) and, if given, the records of other
    registries; record it in ``store`` (none: not recorded), optionally register it, and save it to
    ``out`` with the version its scores carry. With a case ledger ``cases`` (path, URL or `Ledger`),
    each family's latest settled result there is its ``verified_eligible``."""
    fam, mem = _records(families, members)
    if cases is not None:
        fam = with_verified_outcomes(fam, _ledger_outcomes(cases))
    evidence = dict(zip(EVIDENCE_TABLES, map(_evidence, EVIDENCE_TABLES, (registry_records, community_reports))))
    model = TargetingModel(config).fit(fam, mem, reference_date=reference_date, **evidence)
    record = None
    if store is not None:
        held = (*_records(*holdout[:2]), *map(_evidence, EVIDENCE_TABLES, holdout[2:])) if holdout else None
        record = log_training(
            model, fam, mem, store=store, register=register, holdout=held, reference_date=reference_date
        )
    path = model.save(out, model_version=record.model_version if record else None)
    return Trained(model, path, record)


def _ledger_outcomes(cases) -> pd.DataFrame:
    if hasattr(cases, "events"):
        return verified_outcomes(cases)
    with open_ledger(cases) as ledger:
        return verified_outcomes(ledger)


@dataclass
class Scored:
    """A scored batch: the model used, the batch's summary, and its run (None without tracking)."""

    model: TargetingModel
    summary: BatchSummary
    run_id: str | None = None


def score(
    model,
    families,
    members,
    out,
    *,
    store: Store | None = None,
    rules: str | None = None,
    engine: str = "pandas",
    scheduler: str | None = None,
    **options,
) -> Scored:
    """Score a batch's files into ``out`` with ``model`` (a `TargetingModel`, folder or MLflow URI),
    on this machine (`score_files`) or on Dask (`score_dataset`), and record it in ``store``.

    ``rules`` is the rules version the batch is for: refused if the model's differs. ``options``
    go to the engine (``registry_records``, ``reference_date``, ``language``, ``reasons``;
    ``chunk_size``, ``n_jobs`` and ``progress`` for pandas).
    """
    loaded = model if isinstance(model, TargetingModel) else load_model(model)
    loaded.require_rules(rules)
    if engine == "dask":
        summary = score_dataset(loaded, families, members, out, scheduler=scheduler, **options)
    elif engine == "pandas":
        summary = score_files(loaded, families, members, out, **options)
    else:
        raise ValueError(f"engine must be 'pandas' or 'dask', got {engine!r}.")
    run_id = log_scoring(loaded, summary, store=store)[0] if store is not None else None
    return Scored(loaded, summary, run_id)


@dataclass
class Demo:
    """What the demo did: validation of the registry, the model, the scored batch and the lists."""

    validation: ValidationResult
    trained: Trained
    scored: Scored
    lists: Lists
    store: Store
    outputs: list = field(default_factory=list)  # (what, where)


def demo(n_families: int = 20_000, out="demo-output", *, seed: int = 0, step=None) -> Demo:
    """The whole job on a synthetic registry: generate a registry (1% defects) and a new batch,
    validate, train and register, score the batch with the champion, rank it for 200 visits with
    reasons as a round of the case ledger ``out/cases.db``, and write the audit report.
    ``step(description)`` is called as each step starts."""
    step = step or (lambda description: None)
    out = Path(out)
    store = configure()
    outputs = []
    step(f"generating a registry of {n_families:,} families (1% with defects) and a new batch")
    reg = generate_registry(n_families, seed, regions_seed=seed, defect_rate=0.01)
    registry = reg.write(out / "registry")
    batch = generate_registry(max(n_families // 4, 1000), seed + 1, regions_seed=seed, defect_rate=0.01)
    new_batch = batch.write(out / "new-batch")
    files = new_batch / "families.parquet", new_batch / "members.parquet"
    outputs.append(("synthetic registry (families, members, registry records, community reports, truth)", registry))

    step("validating against the data contract")
    res = validate_records(reg.families, reg.members, reference_date=reg.reference_date)
    outputs.append(
        (f"quarantine ({len(res.quarantine):,} problems)", write_csv(res.quarantine, out / "quarantine.csv"))
    )

    step("training the targeting model with records of other registries and community reports, recording it")
    trained = train(
        reg.families,
        reg.members,
        out=out / "model",
        store=store,
        register=DEMO_MODEL,
        holdout=(batch.families, batch.members, *(getattr(batch, t) for t in EVIDENCE_TABLES)),
        reference_date=reg.reference_date,
        **{t: getattr(reg, t) for t in EVIDENCE_TABLES},
    )
    outputs.append((f"model {DEMO_MODEL} version {trained.record.version}", trained.path))

    step("scoring the new batch with the champion")
    options = {t: new_batch / f"{t}.parquet" for t in EVIDENCE_TABLES}
    options.update(reference_date=batch.reference_date, chunk_size=max(len(batch.families) // 2, 1000))
    scored = score(f"models:/{DEMO_MODEL}@champion", *files, out / "scores", store=store, **options)
    outputs.append((f"scores of {scored.summary.n_scored:,} families (MLflow run {scored.run_id[:8]})", out / "scores"))

    step(f"ranking for {DEMO_VISITS} visits, writing the field lists and recording the round in the case ledger")
    scores = out / "scores" / "scores.parquet"
    with open_ledger(out / "cases.db") as ledger:
        listed = list_round(
            ledger, scores, files[0], DEMO_VISITS, out / "lists", members=files[1], public_lists=False, form="odk",
            model=scored.model, seed=seed, listed_on=batch.reference_date,
        )  # fmt: skip
    lists = listed.lists
    audit = int(lists.ranked["audit"].sum())
    outputs.append((f"{len(lists.ranked)} visits ({audit} random audit) in {len(lists.paths)} files", out / "lists"))
    outputs.append((f"case ledger: round {listed.label}, {len(lists.ranked)} cases", out / "cases.db"))

    step("writing the audit report")
    outputs.append(("audit report", write_report(scored.model, out / "report.html", scores=scores)))
    return Demo(res, trained, scored, lists, store, [(what, str(where)) for what, where in outputs])
