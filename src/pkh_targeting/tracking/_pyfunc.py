"""The pyfunc face of a model: one joined records table in, the scored-batch contract out."""

from __future__ import annotations

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from ..records import load_contract, scores_contract

_MLFLOW_TYPES = {"string": "string", "int": "long", "float": "double", "bool": "boolean"}


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Plain NumPy dtypes, as MLflow schemas expect: text as object, nullable integers as float."""
    df = df.copy()
    for c in df.columns:
        dtype = df[c].dtype
        if isinstance(dtype, (pd.StringDtype, pd.BooleanDtype)) or pd.api.types.is_string_dtype(dtype):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
        elif pd.api.types.is_extension_array_dtype(dtype):
            df[c] = df[c].astype("float64")
    return df


def join_records(families: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """One table for the pyfunc model: each member row with its family's columns, plain dtypes."""
    return _plain(members.merge(families, on="family_id", how="left", validate="many_to_one"))


def split_records(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inverse of `join_records`."""
    contract = load_contract()
    fam_cols = [c for c in contract["families"].columns if c in records]
    mem_cols = [c for c in contract["members"].columns if c in records]
    families = records[fam_cols].drop_duplicates("family_id").reset_index(drop=True)
    return families, records[mem_cols].reset_index(drop=True)


def _mlflow_type(spec) -> str:
    return "double" if (spec.dtype == "int" and spec.nullable) else _MLFLOW_TYPES[spec.dtype]


def signature() -> ModelSignature:
    """The pyfunc signature, declared from the data contracts: members joined with families in,
    the scored-batch contract out. Nullable integers travel as doubles. Parameters:
    ``reference_date`` (YYYY-MM-DD, today if empty), ``language`` and ``reasons`` as in `score`."""
    contract = load_contract()
    cols = {
        **contract["members"].columns,
        **{k: v for k, v in contract["families"].columns.items() if k != "family_id"},
    }
    inputs = [ColSpec(_mlflow_type(c), name, required=c.required and not c.nullable) for name, c in cols.items()]
    outputs = [ColSpec(_mlflow_type(c), name, required=not c.nullable) for name, c in scores_contract().columns.items()]
    params = ParamSchema(
        [
            ParamSpec("reference_date", "string", ""),
            ParamSpec("language", "string", "id"),
            ParamSpec("reasons", "string", "auto"),
        ]
    )
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs), params=params)
