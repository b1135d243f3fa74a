"""make test's workers (conftest): a file's tests on one worker, the files of the evidence models on one."""

import re
from pathlib import Path

from conftest import LONGEST, SHARED_WORKER, _ByFile, _start_order

TESTS = Path(__file__).parent


def test_every_file_that_uses_the_evidence_models_shares_their_worker():
    fixtures = re.compile(r"\b(evidence_train|evidence_model|plain_model)\b")
    files = [p for p in TESTS.rglob("test_*.py") if p != Path(__file__)]
    uses = {f"tests/{p.relative_to(TESTS)}" for p in files if fixtures.search(p.read_text())}
    assert uses == set(SHARED_WORKER)


def test_a_files_tests_share_one_scope():
    scope = lambda nodeid: _ByFile._split_scope(None, nodeid)  # noqa: E731
    file = "tests/test_metrics.py"
    assert scope(f"{file}::test_auc[a-b]") == scope(f"{file}::test_x") == file
    assert {scope(f"{f}::test_x[p]") for f in SHARED_WORKER} == {"evidence"}
    assert scope("notebooks/1.01-a.ipynb::1.01-a.ipynb") == "notebooks/1.01-a.ipynb"


def test_the_longest_scopes_start_first_then_the_notebooks():
    for scope in LONGEST:
        assert scope in SHARED_WORKER.values() or (TESTS.parent / scope).is_file(), scope
    scopes = ["tests/test_metrics.py", "notebooks/1.01-a.ipynb", LONGEST[1], "tests/test_rules.py", LONGEST[0]]
    assert sorted(scopes, key=_start_order) == [LONGEST[0], LONGEST[1], "notebooks/1.01-a.ipynb", *scopes[::3]]
