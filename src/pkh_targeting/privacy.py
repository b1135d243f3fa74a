"""Personal data: keyed pseudonyms for research extracts."""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

KEY_ENV = "PKH_PSEUDONYM_KEY"


def _key(key: str | bytes | None) -> bytes:
    key = key if key is not None else os.environ.get(KEY_ENV)
    if not key:
        raise ValueError(f"pseudonymize needs a secret key: set {KEY_ENV} (it is never stored) or pass key=.")
    return key.encode() if isinstance(key, str) else key


def _hmac(values: pd.Series, key: bytes, prefix: str) -> pd.Series:
    out = [
        None if pd.isna(v) else prefix + hmac.new(key, str(v).encode(), hashlib.sha256).hexdigest()[:24] for v in values
    ]
    return pd.Series(out, index=values.index, dtype="string")


def pseudonymize(families: pd.DataFrame, members: pd.DataFrame, key: str | bytes | None = None):
    """A research extract: NIK and family IDs replaced by keyed hashes (HMAC-SHA256), names (the
    head's and the members') and addresses removed. The same key gives the same pseudonyms, so
    extracts can be linked; without the key they cannot be reversed. The key comes from
    ``PKH_PSEUDONYM_KEY`` unless passed.

    Returns
    -------
    (families, members) : tuple of DataFrame

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"family_id": ["KK1"], "head_name": ["Budi"], "address": ["Jl. Melati 5"]})
    >>> m = pd.DataFrame({"family_id": ["KK1"], "nik": ["3273011205850001"]})
    >>> pf, pm = pseudonymize(f, m, key="secret")
    >>> list(pf.columns), pf.family_id[0] == pm.family_id[0], pm.nik[0].startswith("N-")
    (['family_id'], True, True)
    """
    k = _key(key)
    fam = families.drop(columns=[c for c in ("head_name", "address") if c in families]).copy()
    mem = members.drop(columns=[c for c in ("name",) if c in members]).copy()
    fam["family_id"] = _hmac(fam["family_id"], k, "F-")
    mem["family_id"] = _hmac(mem["family_id"], k, "F-")
    if "nik" in mem:
        mem["nik"] = _hmac(mem["nik"], k, "N-")
    return fam, mem


def mask_nik(nik: pd.Series) -> pd.Series:
    """NIK with only the first 6 and last 4 characters shown, as on public lists and in the quarantine."""
    nik = nik.astype("string")
    return nik.str.slice(0, 6) + "*" * 6 + nik.str.slice(-4)
