"""What the ledger's tests share: the ledger's databases, and a scored batch without a model (a
synthetic registry's families with probabilities drawn around their true eligibility; the model's
tests are elsewhere).

The ledger's tests run on SQLite and on a real PostgreSQL server: ``PKH_TEST_POSTGRES_URL``
(``make test`` starts one with scripts/test-postgres). Without it they skip on PostgreSQL, except
under CI, where they fail.
"""

import datetime as dt
import os
import uuid

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pkh_targeting import generate_registry
from pkh_targeting.verification import HEADERS

REF = dt.date(2026, 1, 1)


POSTGRES = os.environ.get("PKH_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    """A new, empty ledger database: a SQLite file, or a database of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "cases.db")
        return
    if not POSTGRES:
        if os.environ.get("CI"):
            pytest.fail("PKH_TEST_POSTGRES_URL is not set: .ci/run starts a PostgreSQL server for these tests.")
        pytest.skip("no PostgreSQL server (PKH_TEST_POSTGRES_URL; make test starts one)")
    name = f"pkh_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def registry(n=1500, seed=3):
    return generate_registry(n, seed, reference_date=REF)


def scores_of(reg, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f, t = reg.families, reg.truth
    p = np.clip(np.where(t["eligible"], 0.7, 0.3) + rng.normal(0, 0.2, len(f)), 0.01, 0.99)
    receives = f["receives_pkh"].to_numpy(bool)
    return pd.DataFrame(
        {
            **{c: f[c].to_numpy() for c in ("family_id", "province_code", "regency_code", "district_code",
                                            "village_code")},  # fmt: skip
            "receives_pkh": receives, "n_components": t["n_components"].to_numpy(),
            "benefit_rp": t["benefit_rp"].to_numpy(), "p_eligible": p,
            "error_type": np.where(receives, "inclusion", "exclusion"),
            "error_score": np.where(receives, 1 - p, p), "reasons": "Lantai tanah, menaikkan peluang layak",
            "model_version": "test-model", "rules_version": "pkh-2025",
        }
    )  # fmt: skip


def returned_list(ranked, truth, path, *, language="id", override=None, visited_on=REF + dt.timedelta(days=20)):
    """A returned list as a team fills it in: the true result of each visit (``override``: family -> result),
    and the visit date in the column teams may add."""
    h = HEADERS[language]
    eligible = ranked["family_id"].map(truth.set_index("family_id")["eligible"])
    words = {"id": ("layak", "tidak layak"), "en": ("eligible", "not eligible")}[language]
    result = np.where(eligible, *words)
    frame = pd.DataFrame({h["family_id"]: ranked["family_id"].to_numpy(), h["result"]: result})
    frame[{"id": "Tanggal kunjungan", "en": "Visit date"}[language]] = visited_on.strftime("%d/%m/%Y")
    for fid, r in (override or {}).items():
        frame.loc[frame[h["family_id"]] == fid, h["result"]] = r
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path
