"""The typer application and what every command shares: options, errors, warnings, tables."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import warnings
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..exceptions import EngineUnavailable, SchemaError
from ..tracking import Store, configure, is_store_uri

app = typer.Typer(
    help="Find PKH inclusion and exclusion errors in DTSEN household records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

USAGE_ERROR = 2


@app.callback()
def _setup() -> None:
    """Find PKH inclusion and exclusion errors in DTSEN household records."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def friendly(func):
    """Turn unusable input into a one-line error and exit code 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (SchemaError, ValidationError, FileNotFoundError, ValueError, ConnectionError, EngineUnavailable) as exc:
            first, *rest = str(exc).strip().splitlines() or [type(exc).__name__]
            err_console.print(f"[bold red]error:[/] {escape(first)}", highlight=False, markup=True)
            for line in rest:
                err_console.print(f"  {line}", highlight=False, markup=False)
            raise typer.Exit(USAGE_ERROR) from None

    return wrapper


# With the [spark] extra installed, pandera loads pyspark.pandas on its first validation, and pyspark
# warns that it does not fully support pandas 3: not the user's concern, the linkage hands Spark
# plain objects. The command line silences that one message; the library leaves filters alone.
warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)

ReferenceDate = Annotated[str | None, typer.Option(help="Date ages refer to (YYYY-MM-DD); today by default.")]
RegistryRecords = Annotated[
    Path | None,
    typer.Option(help="Records of other registries (BKN, BPJS, PLN, Samsat, Dukcapil...; contract/evidence.yaml)."),
]
CommunityReports = Annotated[
    Path | None,
    typer.Option(help="Community reports: usul, sanggah, village meetings (contract/evidence.yaml)."),
]
TrackingUri = Annotated[
    str | None,
    typer.Option(help="MLflow tracking URI; MLFLOW_TRACKING_URI or the embedded store under models/ by default."),
]
NoTracking = Annotated[bool, typer.Option("--no-tracking", help="Do not record the run in MLflow.")]
LocalIfDown = Annotated[
    bool,
    typer.Option(
        "--local-if-down", help="If the tracking server does not answer, record in the local store (tagged) instead."
    ),
]


def as_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@contextlib.contextmanager
def warnings_to_stderr():
    """Show the library's warnings (data quality, drift, fallbacks) as one line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        try:
            yield
        finally:
            for w in dict.fromkeys(str(w.message) for w in caught):
                err_console.print(f"[yellow]warning:[/] {w}", highlight=False)


def tracking_store(uri: str | None, *, local_if_down: bool = False) -> Store:
    """The tracking store, checked before any work starts (warnings on stderr)."""
    with warnings_to_stderr():
        return configure(uri, local_if_down=local_if_down)


def store_for(model: str | None, uri: str | None, *, record: bool, local_if_down: bool = False) -> Store | None:
    """The store to record in (None without ``record``); configured too when ``model`` is read from one."""
    from_store = model is not None and is_store_uri(model)
    if record or from_store:
        store = tracking_store(uri, local_if_down=local_if_down and not from_store)
        return store if record else None
    return None


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def print_table(title: str, columns: list[str], rows, right_from: int = 1) -> None:
    """A rich table: the first ``right_from`` columns left-aligned, the rest right-aligned."""
    table = Table(title=title)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i < right_from else "right")
    for row in rows:
        table.add_row(*[str(v) for v in row])
    console.print(table)


def print_validation(res) -> None:
    """Rows read, valid and quarantined per table, and problems by rule."""
    rows = [(name, f"{r.read:,}", f"{r.valid:,}", f"{r.quarantined:,}") for name, r in res.summary().iterrows()]
    print_table("validation", ["table", "read", "valid", "quarantined"], rows)
    counts = res.rule_counts()
    if len(counts):
        print_table("problems by rule", ["rule", "problems"], [(rule, f"{n:,}") for rule, n in counts.items()])


def print_path(text) -> None:
    """A line a script may read (paths and URIs): never wrapped, never highlighted."""
    console.print(str(text), highlight=False, soft_wrap=True)
