"""The shape of the house: small modules and functions, imports at the top (see STYLE.md section 7).

The layers themselves are import-linter contracts in pyproject.toml, checked by ``lint-imports``.
"""

import ast
from pathlib import Path

import pytest

import pkh_targeting

PACKAGE = Path(pkh_targeting.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60  # signature and code; the docstring is not counted
# imports a function may make: optional extras and heavy plotting
LATE_IMPORTS = {"dask", "distributed", "matplotlib", "shap", "pyspark"}


def _tree(path):
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_small(path):
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


def _code_lines(fn) -> int:
    """Lines of a function, its docstring left out."""
    doc = (
        fn.body[0]
        if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant)
        else None
    )
    return fn.end_lineno - fn.lineno + 1 - (doc.end_lineno - doc.lineno + 1 if doc else 0)


def test_functions_are_short():
    long = [
        f"{path.relative_to(PACKAGE)}:{node.name} ({_code_lines(node)} lines)"
        for path in MODULES
        for node in ast.walk(_tree(path))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > MAX_FUNCTION_LINES
    ]
    assert not long, long


def test_imports_sit_at_the_top():
    late = []
    for path in MODULES:
        for fn in ast.walk(_tree(path)):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = ["." * node.level + (node.module or "")]
                else:
                    continue
                late += [
                    f"{path.relative_to(PACKAGE)}:{fn.name} imports {n}"
                    for n in names
                    if n.split(".")[0] not in LATE_IMPORTS
                ]
    assert not late, late


def test_readme_names_are_importable_from_the_top():
    for name in ("write_field_lists", "targeting_errors", "Explainer", "TargetingModel", "rank_for_verification"):
        assert name in pkh_targeting.__all__ and hasattr(pkh_targeting, name), name
