"""Lineage: fingerprints of record tables and hashes of files, for the audit trail (never rows)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .contract import load_contract


def fingerprint_counts(families: pd.DataFrame, members: pd.DataFrame) -> dict:
    """The additive parts of `data_fingerprint`: sums (mod 2**64) of row hashes and counts, so
    that chunks of a batch add up to the fingerprint of the whole, in any order."""
    contract = load_contract()
    out = {}
    for name, df in (("families", families), ("members", members)):
        cols = [c for c in contract[name].columns if c in df]
        rows = pd.util.hash_pandas_object(df[cols], index=False).to_numpy()
        out[f"{name}_hash"] = int(rows.sum(dtype=np.uint64))
        out[name] = int(len(df))
    out["beneficiaries"] = int(families["receives_pkh"].sum())
    if "verified_eligible" in families:
        v = families["verified_eligible"].dropna().astype(bool)
        out.update(verified=int(len(v)), verified_eligible=int(v.sum()))
    if "consumption_per_capita" in families:
        out["surveyed"] = int(families["consumption_per_capita"].notna().sum())
    return out


def add_fingerprint_counts(a: dict, b: dict) -> dict:
    """Sum two `fingerprint_counts` (row hashes modulo 2**64)."""
    out = {k: a.get(k, 0) + b.get(k, 0) for k in sorted(a.keys() | b.keys())}
    for k in out.keys() & {"families_hash", "members_hash"}:
        out[k] %= 2**64
    return out


def data_fingerprint(families: pd.DataFrame | None = None, members=None, *, counts: dict | None = None) -> dict:
    """Hash of the canonical tables (contract columns; row order does not matter) and label
    counts; never the rows. Give the tables, or their `fingerprint_counts` summed over chunks."""
    c = fingerprint_counts(families, members) if counts is None else counts
    digest = hashlib.sha256(f"families {c['families_hash']} members {c['members_hash']}".encode())
    fp = {k: c[k] for k in ("families", "members", "beneficiaries")}
    fp = {"sha256": digest.hexdigest(), **fp}
    if "verified" in c:
        fp.update(
            verified=c["verified"],
            verified_eligible_share=c["verified_eligible"] / c["verified"] if c["verified"] else None,
        )
    if "surveyed" in c:
        fp["surveyed"] = c["surveyed"]
    return fp


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
