"""Command-line interface: ``pkh-targeting synth|validate|...``."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from .exceptions import SchemaError

app = typer.Typer(
    help="Find PKH inclusion and exclusion errors in DTSEN household records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

USAGE_ERROR = 2


def _friendly(func):
    """Turn unusable input into a one-line error and exit code 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (SchemaError, ValidationError, FileNotFoundError, ValueError) as exc:
            first, *rest = str(exc).strip().splitlines() or [type(exc).__name__]
            err_console.print(f"[bold red]error:[/] {first}", highlight=False, markup=True)
            for line in rest:
                err_console.print(f"  {line}", highlight=False, markup=False)
            raise typer.Exit(USAGE_ERROR) from None

    return wrapper


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@app.command()
@_friendly
def synth(
    families: Annotated[int, typer.Option("--families", "-n", min=1, help="Number of families.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("data/synthetic"),
    defect_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of families with injected defects.")] = 0.0,
    reference_date: Annotated[str | None, typer.Option(help="Date ages refer to (YYYY-MM-DD); today by default.")] = None,
):
    """Generate a synthetic registry: families, members and truth as Parquet."""
    from .synth import generate_registry

    with console.status(f"generating {families:,} families"):
        reg = generate_registry(families, seed, defect_rate=defect_rate, reference_date=_date(reference_date))
        path = reg.write(out)
    t = reg.truth
    console.print(
        f"wrote {len(reg.families):,} families, {len(reg.members):,} members and the truth to [bold]{path}[/]\n"
        f"beneficiaries {t.receives_pkh.mean():.1%}, eligible {t.eligible.mean():.1%}, "
        f"leakage {t.inclusion_error.sum() / max(t.receives_pkh.sum(), 1):.1%}, "
        f"undercoverage {t.exclusion_error.sum() / max(t.eligible.sum(), 1):.1%}"
    )


@app.command()
@_friendly
def validate(
    families: Annotated[Path, typer.Option(help="Families table (.csv, .parquet, .xlsx).")],
    members: Annotated[Path, typer.Option(help="Members table (.csv, .parquet, .xlsx).")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("validated"),
    reference_date: Annotated[str | None, typer.Option(help="Date ages refer to (YYYY-MM-DD); today by default.")] = None,
):
    """Validate records against the data contract; write valid rows and quarantine.csv."""
    from .outputs import write_csv, write_parquet
    from .reading import read_records
    from .validation import validate_records

    fam, mem = read_records(families, members)
    res = validate_records(fam, mem, reference_date=_date(reference_date))
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(res.families, out / "families.parquet")
    write_parquet(res.members, out / "members.parquet")
    write_csv(res.quarantine, out / "quarantine.csv")
    print_validation(res)
    console.print(f"valid records and quarantine.csv written to [bold]{out}[/]")


def print_validation(res) -> None:
    table = Table(title="validation")
    for col in ("table", "read", "valid", "quarantined"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for name, row in res.summary().iterrows():
        table.add_row(name, f"{row.read:,}", f"{row.valid:,}", f"{row.quarantined:,}")
    console.print(table)
    counts = res.rule_counts()
    if len(counts):
        rules = Table(title="problems by rule")
        rules.add_column("rule")
        rules.add_column("problems", justify="right")
        for rule, n in counts.items():
            rules.add_row(str(rule), f"{n:,}")
        console.print(rules)


def main() -> None:  # pragma: no cover - console-script entry point
    app()


@app.command()
@_friendly
def demo(
    families: Annotated[int, typer.Option("--families", "-n", min=100, help="Families in the training registry.")] = 20_000,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-output"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
):
    """Run the whole job end to end on a synthetic registry."""
    from .outputs import write_csv
    from .synth import generate_registry
    from .validation import validate_records

    out.mkdir(parents=True, exist_ok=True)
    with console.status(f"generating a synthetic registry of {families:,} families (1% with defects)"):
        reg = generate_registry(families, seed, defect_rate=0.01)
        reg.write(out / "registry")
    console.print(f"[green]✓[/] synthetic registry in {out / 'registry'}")
    with console.status("validating against the data contract"):
        res = validate_records(reg.families, reg.members, reference_date=reg.reference_date)
        write_csv(res.quarantine, out / "quarantine.csv")
    print_validation(res)
    console.print(f"[green]✓[/] quarantine written to {out / 'quarantine.csv'}")
