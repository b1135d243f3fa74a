import datetime as dt
import os

# under `make test`'s workers (pytest-xdist), one per core, each worker's LightGBM trains on one thread
# (the library's default where OMP_NUM_THREADS is set): two threads per worker contend for the cores and
# wait at every barrier (tests/modeling and tests/cli: 161 s -> 105 s); a run in one process uses every core
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest
from xdist.scheduler import LoadScopeScheduling  # noqa: E402

from _cases import ledger_url  # noqa: E402, F401  (the case ledger's databases: SQLite and PostgreSQL)

REF = dt.date(2025, 7, 1)


def examples(n: int) -> int:
    """How many examples a property test tries: a fifth under ``make mutation`` (``PKH_MUTATION=1``),
    where each surviving mutant runs the test again."""
    return max(10, n // 5) if os.environ.get("PKH_MUTATION") else n


def occurring(blob: bytes, strings) -> list[str]:
    """The ``strings`` that occur in ``blob``, at the cost of one pass: each string's first eight bytes
    are looked up at every offset at once, and only those places are compared whole."""
    by_head, found = {}, set()
    for s in set(strings):
        b = s.encode()
        if len(b) < 8:
            if b in blob:
                found.add(s)
        else:
            by_head.setdefault(int.from_bytes(b[:8], "little"), []).append((s, b))
    if len(blob) >= 8 and by_head:
        words = np.lib.stride_tricks.sliding_window_view(np.frombuffer(blob, np.uint8), 8).copy().view("<u8").ravel()
        for at in np.flatnonzero(np.isin(words, np.fromiter(by_head, np.uint64, len(by_head)))):
            found.update(s for s, b in by_head[int(words[at])] if blob.startswith(b, at))
    return sorted(found)


def write_office_workbook(path, families, members, notes="notes"):
    """An Excel export as offices send it: a notes sheet first, then sheets named Keluarga and Anggota."""
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"catatan": [notes]}).to_excel(xl, sheet_name="Catatan", index=False)
        families.to_excel(xl, sheet_name="Keluarga", index=False)
        members.to_excel(xl, sheet_name="Anggota", index=False)
    return path


def hand_made_family(family_id="KK-001"):
    """One valid family of three, built by hand: NIKs match ages, sex and regency 3273."""
    fam = {
        "family_id": family_id,
        "head_name": "Budi Santoso",
        "address": "Jl. Melati No. 5 RT 001/RW 002",
        "province_code": "32",
        "regency_code": "3273",
        "district_code": "3273010",
        "village_code": "3273010001",
        "urban": True,
        "n_members": 3,
        "building_ownership": 1,
        "floor_area_m2": 45.0,
        "floor_material": 6,
        "wall_material": 1,
        "roof_material": 2,
        "drinking_water": 2,
        "lighting": 1,
        "electricity_va": 900,
        "cooking_fuel": 4,
        "toilet_facility": 1,
        "sewage_disposal": 1,
        "has_lpg_5kg": False,
        "has_refrigerator": True,
        "has_ac": False,
        "has_water_heater": False,
        "has_landline": False,
        "has_flat_tv": False,
        "has_gold_10g": False,
        "has_computer": False,
        "has_motorcycle": True,
        "has_bicycle": False,
        "has_car": False,
        "has_boat": False,
        "has_motor_boat": False,
        "has_smartphone": True,
        "owns_land": False,
        "owns_other_house": False,
        "n_cattle": 0,
        "n_buffalo": 0,
        "n_horse": 0,
        "n_pig": 0,
        "n_goat": 0,
        "internet_access": 3,
        "has_bank_account": False,
        "receives_pkh": True,
        "receives_sembako": True,
        "verified_eligible": None,
        "consumption_per_capita": None,
    }
    common = {
        "family_id": family_id,
        "pregnant": False,
        "severe_disability": False,
        "chronic_illness": False,
        "health_insurance": 1,
        "school_level": None,
    }
    members = [
        # born 12 May 1985: 40 on 1 July 2025
        {
            **common,
            "member_no": 1,
            "nik": "3273011205850001",
            "relationship": 1,
            "sex": 1,
            "age": 40,
            "marital_status": 2,
            "school_participation": 3,
            "education": 2,
            "worked_last_week": True,
            "work_sector": 11,
            "employment_status": 1,
        },
        # woman born 3 August 1990 (day 03 + 40): 34 on 1 July 2025
        {
            **common,
            "member_no": 2,
            "nik": "3273014308900002",
            "relationship": 2,
            "sex": 2,
            "age": 34,
            "marital_status": 2,
            "school_participation": 3,
            "education": 2,
            "worked_last_week": False,
            "work_sector": 0,
            "employment_status": 0,
        },
        # girl born 15 March 2017, in SD
        {
            **common,
            "member_no": 3,
            "nik": "3273015503170003",
            "relationship": 3,
            "sex": 2,
            "age": 8,
            "marital_status": 1,
            "school_participation": 2,
            "school_level": 1,
            "education": 0,
            "worked_last_week": False,
            "work_sector": 0,
            "employment_status": 0,
        },
    ]
    return pd.DataFrame([fam]), pd.DataFrame(members)


# files that share the evidence models below: one worker builds them, for all of these files
SHARED_WORKER = dict.fromkeys(
    [
        "tests/modeling/test_calibration.py",
        "tests/modeling/test_community_reports.py",
        "tests/modeling/test_registry_evidence.py",
        "tests/scoring/test_dask.py",
    ],
    "evidence",
)


# the longest scopes (20-90 s each), sent first and then the notebooks (a kernel each), so that the end of
# the run is the many short files, which even out the two workers (by number of tests, xdist's order, the
# notebooks came last and one worker ran alone for up to 30 s)
LONGEST = (
    "evidence",
    "tests/tracking/test_tracking.py",
    "tests/scoring/test_local.py",
    "tests/cli/test_cli.py",
    "tests/verification/test_budget.py",
    "tests/cli/test_bad_input.py",
)


class _ByFile(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        file = nodeid.split("::", 1)[0]
        return SHARED_WORKER.get(file, file)

    def _assign_work_unit(self, node) -> None:
        if not getattr(self, "_ordered", False):  # once, before the first unit is sent
            for scope in sorted(self.workqueue, key=_start_order):  # stable: the rest by number of tests
                self.workqueue.move_to_end(scope)
            self._ordered = True
        super()._assign_work_unit(node)


def _start_order(scope: str) -> int:
    return LONGEST.index(scope) if scope in LONGEST else len(LONGEST) + (not scope.startswith("notebooks/"))


def pytest_xdist_make_scheduler(config, log):
    """Under ``--dist loadscope`` (``make test``): a file's tests run on one worker, which builds its
    module fixtures once, and the files of `SHARED_WORKER` share one. (Not ``xdist_group`` marks:
    pytest 9.2 ignores the node ids that ``--dist loadgroup`` renames to group them.)"""
    return _ByFile(config, log) if config.getvalue("dist") == "loadscope" else None


def _registry(n_families: int, **kwargs):
    """`generate_registry`, imported when a fixture first needs it: xdist's controller process loads
    this file for its scheduler and does not import the library."""
    from pkh_targeting.synth import generate_registry

    return generate_registry(n_families, **kwargs)


@pytest.fixture
def family():
    return hand_made_family()


@pytest.fixture
def two_families():
    f1, m1 = hand_made_family("KK-001")
    f2, m2 = hand_made_family("KK-002")
    m2["nik"] = m2["nik"].str.slice(0, 12) + ["0011", "0012", "0013"]
    return pd.concat([f1, f2], ignore_index=True), pd.concat([m1, m2], ignore_index=True)


@pytest.fixture(scope="session")
def small_registry():
    return _registry(300, seed=11, reference_date=REF)


@pytest.fixture(autouse=True)
def _reset_mlflow():
    """Tests that point MLflow somewhere must not leak that choice into the next test."""
    yield
    import mlflow

    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def fitted_model():
    """A real TargetingModel, trained once for the tests that only score."""
    from pkh_targeting import TargetingModel

    reg = _registry(4_000, seed=1, regions_seed=0, reference_date=REF)
    return TargetingModel(cv={"n_splits": 3}).fit(reg.families, reg.members, reference_date=REF)


@pytest.fixture(scope="session")
def messy_batch():
    """A batch whose problems cross chunk boundaries: a family id repeated at the end, a NIK shared
    by a family at the start and one at the end, members of no family, members shuffled."""
    reg = _registry(2_500, seed=2, regions_seed=0, reference_date=REF, defect_rate=0.03)
    fam, mem = reg.families.copy(), reg.members.copy()
    fam = pd.concat([fam, fam.iloc[[10]]], ignore_index=True)
    last = mem.index[mem.family_id == fam.family_id.iloc[2400]][0]
    mem.loc[last, "nik"] = mem.nik.iloc[0]
    orphans = mem.iloc[[5, 6]].assign(family_id="KK-NOWHERE")
    mem = pd.concat([mem, orphans], ignore_index=True).sample(frac=1, random_state=0).reset_index(drop=True)
    return fam, mem


@pytest.fixture(scope="session")
def evidence_train():
    """A registry with the records other registries hold about its people."""
    return _registry(15_000, seed=3, regions_seed=0, reference_date=REF)


@pytest.fixture(scope="session")
def evidence_model(evidence_train):
    """A TargetingModel trained with registry records (its linker trained on them)."""
    from pkh_targeting import TargetingModel

    reg = evidence_train
    return TargetingModel(cv={"n_splits": 3}).fit(
        reg.families, reg.members, registry_records=reg.registry_records, reference_date=REF
    )


@pytest.fixture(scope="session")
def plain_model(evidence_train):
    """The same registry's model without evidence: what the registry records and the reports add to."""
    from pkh_targeting import TargetingModel

    return TargetingModel(cv={"n_splits": 3}).fit(evidence_train.families, evidence_train.members, reference_date=REF)


def top_precision(scores, truth, kind):
    """Share of true ``kind`` errors among the top 10% of a list by error score (the inclusion list
    among families with a PKH component: those without are errors by rule)."""
    s = scores.merge(truth[["family_id", f"{kind}_error"]], on="family_id")
    s = s[s["error_type"] == kind]
    if kind == "inclusion":
        s = s[s["n_components"] > 0]
    return s.nlargest(int(0.1 * len(s)), "error_score")[f"{kind}_error"].mean()
