"""Personal data: keyed pseudonyms for research extracts."""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

KEY_ENV = "PKH_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32  # NIKs are few enough (regions x birth dates x serials) to be guessed through a weak key


def _key(key: str | bytes | None) -> bytes:
    key = key if key is not None else os.environ.get(KEY_ENV)
    if not key:
        raise ValueError(f"pseudonymize needs a secret key: set {KEY_ENV} (it is never stored) or pass key=.")
    key = key.encode() if isinstance(key, str) else key
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"the pseudonym key has {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes (for instance "
            "python -c 'import secrets; print(secrets.token_hex(32))'): NIKs are few enough to be guessed "
            "through a short key."
        )
    return key


def _hmac(values: pd.Series, key: bytes, prefix: str) -> pd.Series:
    out = [
        None if pd.isna(v) else prefix + hmac.new(key, str(v).encode(), hashlib.sha256).hexdigest()[:24] for v in values
    ]
    return pd.Series(out, index=values.index, dtype="string")


def pseudonymize(
    families: pd.DataFrame,
    members: pd.DataFrame,
    key: str | bytes | None = None,
    *,
    registry_records: pd.DataFrame | None = None,
    community_reports: pd.DataFrame | None = None,
):
    """A research extract: NIK, family and record IDs replaced by keyed hashes (HMAC-SHA256), names
    (the head's, the members', the records') and addresses removed, birth dates cut to the year. The
    same key gives the same pseudonyms, so extracts (and the evidence tables, given here) can be
    linked; without the key they cannot be reversed. The key (at least 32 bytes) comes from
    ``PKH_PSEUDONYM_KEY`` unless passed.

    Returns
    -------
    (families, members), with the evidence tables given appended in that order

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"family_id": ["KK1"], "head_name": ["Budi"], "address": ["Jl. Melati 5"]})
    >>> m = pd.DataFrame({"family_id": ["KK1"], "nik": ["3273011205850001"]})
    >>> pf, pm = pseudonymize(f, m, key="a secret of at least thirty-two bytes")
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
    out = [fam, mem]
    if registry_records is not None:
        rec = registry_records.drop(columns=[c for c in ("full_name",) if c in registry_records]).copy()
        rec["record_id"] = _hmac(rec["record_id"], k, "R-")
        if "nik" in rec:
            rec["nik"] = _hmac(rec["nik"], k, "N-")
        if "birth_date" in rec:
            rec["birth_year"] = pd.to_datetime(rec.pop("birth_date"), errors="coerce").dt.year.astype("Int64")
        if "family_id" in rec:  # links
            rec["family_id"] = _hmac(rec["family_id"], k, "F-")
        out.append(rec)
    if community_reports is not None:
        rep = community_reports.copy()
        rep["family_id"] = _hmac(rep["family_id"], k, "F-")
        rep["report_id"] = _hmac(rep["report_id"], k, "U-")
        out.append(rep)
    return tuple(out)


def mask_nik(nik: pd.Series) -> pd.Series:
    """NIK with only the first 6 and last 4 characters shown, as on public lists and in the quarantine."""
    nik = nik.astype("string")
    return nik.str.slice(0, 6) + "*" * 6 + nik.str.slice(-4)
