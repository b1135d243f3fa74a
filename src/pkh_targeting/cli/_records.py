"""``synth``, ``validate`` and ``link``: synthetic registries, records checked against the contract,
and records of other registries linked to members."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import typer

from .. import jobs
from ..cases import case_table, open_ledger
from ..metrics import targeting_errors
from ..outputs import write_csv, write_parquet
from ..records import read_records, validate_records
from ..scoring import write_partitioned
from ..synth import Registry, generate_registry
from ._app import ReferenceDate, as_date, console, friendly, print_table, print_validation, warnings_to_stderr


@friendly
def synth(
    families: Annotated[int, typer.Option("--families", "-n", min=1, help="Number of families.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("data/synthetic"),
    defect_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of families with injected defects.")] = 0.0,
    reference_date: ReferenceDate = None,
    partition_by: Annotated[
        str | None,
        typer.Option(help="Also write families/ and members/ datasets partitioned by this region column (Dask)."),
    ] = None,
    next_of: Annotated[
        Path | None,
        typer.Option(help="Instead: the next quarter of the registry in this folder (births, deaths, moves...)."),
    ] = None,
    cases: Annotated[
        str | None, typer.Option(help="With --next-of: the case ledger whose proposed decisions the registry applies.")
    ] = None,
):
    """Generate a synthetic registry: families, members, records of other registries and truth as Parquet."""
    with console.status(f"generating {families:,} families" if next_of is None else f"the quarter after {next_of}"):
        if next_of is None:
            reg = generate_registry(families, seed, defect_rate=defect_rate, reference_date=as_date(reference_date))
        else:
            reg = Registry.read(next_of).next_round(_proposed(cases) if cases else None)
        path = reg.write(out)
        if partition_by:
            write_partitioned(reg.families, reg.members, out / "partitioned", by=partition_by)
    t = reg.truth
    errors = targeting_errors(t.eligible, t.receives_pkh)
    console.print(
        f"wrote {len(reg.families):,} families, {len(reg.members):,} members and the truth to [bold]{path}[/]\n"
        f"beneficiaries {errors['coverage_share']:.1%}, eligible {errors['eligible_share']:.1%}, "
        f"leakage {errors['leakage']:.1%}, undercoverage {errors['undercoverage']:.1%}"
    )


def _proposed(cases) -> pd.DataFrame:
    """The decisions the ledger has proposed to the registry (``family_id, decision``)."""
    with open_ledger(cases) as ledger:
        t = case_table(ledger)
    return t.loc[t["state"].isin(["proposed", "not_applied"]), ["family_id", "decision"]] if len(t) else None


@friendly
def validate(
    families: Annotated[Path, typer.Option(help="Families table (.csv, .parquet, .xlsx).")],
    members: Annotated[Path, typer.Option(help="Members table (.csv, .parquet, .xlsx).")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("validated"),
    reference_date: ReferenceDate = None,
):
    """Validate records against the data contract; write valid rows and quarantine.csv."""
    with warnings_to_stderr():
        res = validate_records(*read_records(families, members), reference_date=as_date(reference_date))
    write_parquet(res.families, out / "families.parquet")
    write_parquet(res.members, out / "members.parquet")
    write_csv(res.quarantine, out / "quarantine.csv")
    print_validation(res)
    console.print(f"valid records and quarantine.csv written to [bold]{out}[/]")


@friendly
def link(
    families: Annotated[Path, typer.Option(help="Families table (.csv, .parquet, .xlsx).")],
    members: Annotated[Path, typer.Option(help="Members table (its optional name column links records without NIK).")],
    registry_records: Annotated[Path, typer.Option(help="Records of other registries (contract/evidence.yaml).")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("links"),
    engine: Annotated[
        Literal["duckdb", "spark"], typer.Option(help="duckdb (embedded) or spark (a cluster; the [spark] extra).")
    ] = "duckdb",
    spark_master: Annotated[str | None, typer.Option(help="Spark master URL; a local session by default.")] = None,
    min_probability: Annotated[
        float, typer.Option(min=0, max=1, help="A probabilistic candidate below this is no link.")
    ] = 0.8,
    seed: Annotated[int, typer.Option(help="Seed of the linkage model's random sampling.")] = 0,
    reference_date: ReferenceDate = None,
):
    """Link records of other registries to members (exact NIK, then Splink): links.parquet, a summary
    per source and method, the records' quarantine and the trained linker."""
    with console.status("linking (exact NIK, then Fellegi-Sunter with Splink)"), warnings_to_stderr():
        res = jobs.link(
            families,
            members,
            registry_records,
            out,
            reference_date=as_date(reference_date),
            engine=engine,
            spark_master=spark_master,
            min_probability=min_probability,
            seed=seed,
        )
    summary = res.summary()
    print_table("links", list(summary.columns), summary.astype(str).itertuples(index=False))
    console.print(
        f"{len(res.links):,} records linked or not, {res.quarantine['row'].nunique():,} quarantined; "
        f"links.parquet, link_summary.csv, evidence_quarantine.csv and linker.json written to [bold]{out}[/]"
    )
