"""The probabilistic linkage model: Fellegi-Sunter with Splink, its parameters estimated by EM.

Members (left) are linked to registry records (right), ``link_only``. Comparisons: NIK (exact, one or
two digits off), name (exact, Jaro-Winkler, initials), birth date (exact, day and month swapped,
year), sex and regency. Blocking keeps the candidate pairs few: the NIK but for one of its parts (a
typo leaves the others whole), regency with birth date or name, birth date with the name's initials.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import splink
from splink import DuckDBAPI, Linker

from ..exceptions import EngineUnavailable

ENGINES = ("duckdb", "spark")
MIN_EM_PAIRS = 200
EM_PAIRS = 500_000
# NIK parts: region (1-6), day (7-8), month (9-10), year (11-12), serial (13-16)
_NIK_PARTS = {"region": (1, 6), "day": (7, 2), "month": (9, 2), "year": (11, 2), "serial": (13, 4)}


def _rule(columns: list[str], equalities: list[str]) -> str:
    """A blocking rule that is false, never null, where a column is missing: Spark excludes the pairs
    of earlier rules with NOT (rule), and NOT (null) would drop every pair of a record without a NIK."""
    present = [f"l.{c} is not null and r.{c} is not null" for c in columns]
    return " and ".join(present + equalities)


_BLOCKING = [
    # the NIK whole but for one part: a typo, or two in one part
    *(
        _rule(
            ["nik"],
            [f"substr(l.nik, {i}, {n}) = substr(r.nik, {i}, {n})" for p, (i, n) in _NIK_PARTS.items() if p != skip],
        )
        for skip in _NIK_PARTS
    ),
    *(
        _rule(cols, [f"l.{c} = r.{c}" for c in cols])
        for cols in (["regency_code", "birth_date"], ["regency_code", "name_norm"], ["birth_date", "name_key"])
    ),
]
# EM sessions: each blocks on some columns and estimates the others
_EM_BLOCKS = [
    "l.nik = r.nik",
    "l.regency_code = r.regency_code and l.birth_date = r.birth_date",
    "l.name_norm = r.name_norm and l.sex = r.sex",
]


def _near_nik(left: str = "nik_l", right: str = "nik_r") -> str:
    """True for every two 16-digit NIKs within two edits (Damerau-Levenshtein) of each other, and for
    few others: a cheap test before the distance, which took most of the linker's training.

    Where the region (the first six digits) agrees, the distance is that of the last ten, and where
    the serial number (the last four, mostly 0001) agrees too, that of the birth date alone: six
    digits instead of sixteen. Where the region differs, an edit is in it, and two edits leave a
    stretch further on that both share, in place (substitutions, transpositions) or moved by one (an
    insertion and a deletion), unless the end is whole.
    """

    def same(i: int, n: int, j: int | None = None) -> str:
        return f"substr({left}, {i}, {n}) = substr({right}, {j or i}, {n})"

    def within_two(i: int, n: int) -> str:
        return f"damerau_levenshtein(substr({left}, {i}, {n}), substr({right}, {i}, {n})) <= 2"

    region_edited = [same(12, 5), same(8, 3), same(7, 5, 8), same(8, 5, 7)]
    # CASE, not and/or: DuckDB evaluates each branch only on its rows
    return (
        f"(case when length({left}) <> 16 or length({right}) <> 16 then true"
        f" when {same(1, 6)} then (case when {same(13, 4)} then {within_two(7, 6)} else {within_two(7, 10)} end)"
        f" else {' or '.join(region_edited)} end)"
    )


def _near_nik_within(edits: int) -> str:
    """NIKs within ``edits`` edits, the distance worked out only where `_near_nik` lets it."""
    return f"(case when {_near_nik()} then damerau_levenshtein(nik_l, nik_r) <= {edits} else false end)"


def _null(col: str) -> dict:
    return {
        "sql_condition": f"{col}_l IS NULL OR {col}_r IS NULL",  # unquoted: Spark reads "x" as text
        "label_for_charts": "null",
        "is_null_level": True,
    }


def _level(sql: str, label: str, m: float) -> dict:
    """A comparison level with its prior m probability (how often a true match is at this level),
    what the model uses where EM has too few pairs to estimate it."""
    return {"sql_condition": sql, "label_for_charts": label, "m_probability": m}


def _comparisons() -> list[dict]:
    jw = "jaro_winkler_similarity(name_norm_l, name_norm_r)"
    return [
        {
            "output_column_name": "nik",
            "comparison_levels": [
                _null("nik"),
                _level("nik_l = nik_r", "exact", 0.8),
                _level(_near_nik_within(1), "one digit off", 0.07),
                _level(_near_nik_within(2), "two digits off", 0.03),
                _level("ELSE", "different", 0.1),
            ],
        },
        {
            "output_column_name": "name",
            "comparison_levels": [
                _null("name_norm"),
                _level("name_norm_l = name_norm_r", "exact", 0.7),
                _level(f"{jw} >= 0.92", "Jaro-Winkler >= 0.92", 0.15),
                _level("name_key_l = name_key_r", "initials agree", 0.07),
                _level(f"{jw} >= 0.80", "Jaro-Winkler >= 0.80", 0.05),
                _level("ELSE", "different", 0.03),
            ],
        },
        {
            "output_column_name": "birth_date",
            "comparison_levels": [
                _null("birth_year"),
                _level("birth_date_l = birth_date_r", "exact", 0.9),
                _level("birth_date_l = birth_date_swapped_r", "day and month swapped", 0.04),
                _level("abs(birth_year_l - birth_year_r) <= 1", "year within one", 0.04),
                _level("ELSE", "different", 0.02),
            ],
        },
        {
            "output_column_name": "sex",
            "comparison_levels": [
                _null("sex"),
                _level("sex_l = sex_r", "exact", 0.98),
                _level("ELSE", "different", 0.02),
            ],
        },
        {
            "output_column_name": "regency",
            "comparison_levels": [
                _null("regency_code"),
                _level("regency_code_l = regency_code_r", "exact", 0.92),
                _level("ELSE", "different", 0.08),
            ],
        },
    ]


def settings() -> dict:
    """The untrained Splink settings of the member-to-record linkage."""
    return {
        "link_type": "link_only",
        "linker_uid": "pkhlink",
        "unique_id_column_name": "unique_id",
        "comparisons": _comparisons(),
        "blocking_rules_to_generate_predictions": [{"blocking_rule": b} for b in _BLOCKING],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "max_iterations": 25,
        "em_convergence": 0.0001,
    }


def db_api(engine: str = "duckdb", *, spark_master: str | None = None, threads: int | None = None):
    """The Splink database API of ``engine``: DuckDB in memory, or a Spark session (``[spark]`` extra).

    ``threads=1`` makes DuckDB's sums run in one order, so that EM gives the same parameters to the
    last bit (parallel sums differ from run to run, and so would the model).
    """
    if engine == "duckdb":
        con = duckdb.connect()
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        return DuckDBAPI(connection=con)
    if engine == "spark":
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            needs = "the Spark engine needs pyspark and Java: pip install 'pkh-targeting[spark]'"
            raise EngineUnavailable(needs) from exc
        import pyspark

        # Splink's string similarity functions (Jaro-Winkler, Damerau-Levenshtein) as Spark UDFs
        jar = "0.2.1_spark4.x" if int(pyspark.__version__.split(".")[0]) >= 4 else "0.1.2_spark3.x"
        jar = Path(splink.__file__).parent / "internals" / "files" / "spark_jars" / f"scala-udf-similarity-{jar}.jar"
        builder = SparkSession.builder.appName("pkh-targeting-link").config("spark.jars", str(jar))
        try:
            spark = (builder.master(spark_master) if spark_master else builder).getOrCreate()
        except Exception as exc:  # no Java, or no cluster at that address
            raise EngineUnavailable(
                f"cannot start a Spark session ({exc}); is Java installed and the master reachable?"
            ) from exc
        if spark.sparkContext.getCheckpointDir() is None:  # Splink checkpoints to break lineage
            spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="pkh-spark-"))
        return splink.SparkAPI(spark_session=spark)  # an attribute, so that DuckDB alone needs no pyspark
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}.")


_JARO_WINKLER = {"duckdb": "jaro_winkler_similarity", "spark": "jaro_winkler"}


def for_dialect(model: dict, dialect: str) -> dict:
    """The model's SQL in ``dialect``: the one function named differently (Jaro-Winkler) renamed, so
    that a model trained on DuckDB links on Spark and back."""
    text = re.sub(r"\bjaro_winkler(?:_similarity)?\(", f"{_JARO_WINKLER[dialect]}(", json.dumps(model))
    return {**json.loads(text), "sql_dialect": dialect} if "sql_dialect" in model else json.loads(text)


def _linker(api, left: pd.DataFrame, right: pd.DataFrame, model: dict):
    dialect = api.sql_dialect.sql_dialect_str
    model = for_dialect(model, dialect)
    if dialect == "spark":  # pyspark reads pandas 3's missing strings as values: hand it None
        left, right = (t.astype(object).where(t.notna(), None) for t in (left, right))
        for name in ("members", "records"):  # the session outlives a linker: last run's tables go
            api.spark.catalog.dropTempView(name)
    # the names take part in Splink's seeded sampling of pairs: fixed, so that a seed gives one model
    sdf = [api.register(t, dataset_display_name=name) for t, name in ((left, "members"), (right, "records"))]
    return Linker(sdf, model, log_level=None)


def train(left: pd.DataFrame, right: pd.DataFrame, *, seed: int = 0, engine: str = "duckdb", **engine_kw) -> dict:
    """Estimate the linkage parameters on these two sides (u by random sampling, m by EM where a
    training block has at least `MIN_EM_PAIRS` pairs, else the priors); returns the trained model
    as a JSON-ready dict."""
    logging.getLogger("splink").setLevel(logging.ERROR)
    model = settings()
    model["probability_two_random_records_match"] = 1 / max(len(left), 2)  # one member per record at most
    linker = _linker(db_api(engine, **engine_kw, **({"threads": 1} if engine == "duckdb" else {})), left, right, model)
    if _pairs(left, right, "l.nik = r.nik"):
        linker.training.estimate_probability_two_random_records_match(["l.nik = r.nik"], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    for block in _EM_BLOCKS:
        if _pairs(left, right, block) >= MIN_EM_PAIRS:
            # at most EM_PAIRS pairs, chosen by a deterministic hash of the records
            linker.training.estimate_parameters_using_expectation_maximisation(block, max_pairs=EM_PAIRS)
    return linker.misc.save_model_to_json()


def _pairs(left: pd.DataFrame, right: pd.DataFrame, rule: str) -> int:
    """Pairs a blocking rule makes (counted in DuckDB, whatever the engine)."""
    with duckdb.connect() as con:
        con.register("l", left)
        con.register("r", right)
        return int(con.execute(f"select count(*) from l join r on {rule}").fetchone()[0])


def predict(
    model: dict,
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    min_probability: float = 0.01,
    engine: str = "duckdb",
    **engine_kw,
) -> pd.DataFrame:
    """Candidate pairs ``unique_id_l, unique_id_r, match_probability`` at or above ``min_probability``."""
    cols = ["unique_id_l", "unique_id_r", "match_probability"]
    if not len(left) or not len(right):
        return pd.DataFrame({c: pd.Series(dtype="string" if c != "match_probability" else "float64") for c in cols})
    linker = _linker(db_api(engine, **engine_kw), left, right, model)
    pairs = linker.inference.predict(threshold_match_probability=min_probability).as_pandas_dataframe()
    return pairs[cols]
