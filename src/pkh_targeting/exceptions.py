"""Exceptions and warnings raised by pkh_targeting."""


class SchemaError(ValueError):
    """Input whose structure cannot be used: unreadable file, missing or duplicated columns.

    Row-level problems never raise; they go to the quarantine (see `validate_records`).
    """


class DataQualityWarning(UserWarning):
    """Input that was usable but needed coercion or had rows quarantined."""


class SmallGroupWarning(UserWarning):
    """A group is too small for its metric to be judged."""


class EngineUnavailable(RuntimeError):
    """An optional engine (Spark, Dask) whose packages, Java or cluster are not there; says how to get them."""
