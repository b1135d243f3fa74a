"""Looking up text keys (family ids, region codes) with Arrow's hash tables.

`pd.Index.get_indexer` on Arrow-backed strings goes through Python objects; Arrow's ``index_in``
is about five times faster on a chunk of 100,000 families.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _arrow_text(x) -> pa.Array:
    if not (isinstance(x, (pd.Series, pd.Index)) and isinstance(x.dtype, pd.StringDtype)):
        x = pd.array(np.asarray(x, dtype=object), dtype="string")
    return pa.array(x, type=pa.large_string())


def positions(values, keys) -> np.ndarray:
    """Position in ``keys`` of each of ``values`` (its first occurrence), -1 where absent or missing.

    As ``pd.Index(keys).get_indexer(values)`` for unique text keys.
    """
    found = pc.index_in(_arrow_text(values), value_set=_arrow_text(keys), skip_nulls=True)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def lookup(values, series: pd.Series, fill=np.nan) -> np.ndarray:
    """``series`` (indexed by text keys) at each of ``values``; ``fill`` where absent.

    As ``series.reindex(values).to_numpy()`` for a numeric ``series`` with a unique index.
    """
    data = np.append(series.to_numpy(dtype="float64", na_value=np.nan), fill)
    return data[positions(values, series.index)]  # -1, absent, takes the appended fill
