"""``synth`` and ``validate``: synthetic registries, and records checked against the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..metrics import targeting_errors
from ..outputs import write_csv, write_parquet
from ..records import read_records, validate_records
from ..scoring import write_partitioned
from ..synth import generate_registry
from ._app import ReferenceDate, as_date, console, friendly, print_validation, warnings_to_stderr


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
):
    """Generate a synthetic registry: families, members and truth as Parquet."""
    with console.status(f"generating {families:,} families"):
        reg = generate_registry(families, seed, defect_rate=defect_rate, reference_date=as_date(reference_date))
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
