# Two commands do all the setup on a fresh machine with Python 3.11 and pip:
#   make demo   - create .venv, install, run the whole job on synthetic data (local MLflow store)
#   make test   - create .venv, install with the test and dask extras, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# make notebooks - run the notebooks again in place, outputs kept (they are committed executed)
# make mutation  - mutation testing (mutmut) of ranking, audit, feedback, validation rules, programme
#                  rules and metrics against their tests; not part of make test (about 1.5 hours on 2 cores;
#                  resumes where it stopped; PKH_MUTATION=1 makes the property tests try a fifth of their examples)
.PHONY: demo test install notebooks mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Bytecode is compiled for what the library imports (pip's --no-compile: compiling all of every
# dependency took 54 of the install's 87 s); the rest is compiled when first imported
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-compile -e ".[test,dask]"
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -c "import pkh_targeting.cli"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/pkh-targeting demo

# one worker per core; a file's tests (and the files sharing the evidence models) stay on one worker (conftest).
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: the workers, the subprocesses and the
# notebooks' kernels each import the library, compiled once. The case ledger's tests run on SQLite and on
# a throwaway PostgreSQL server (scripts/test-postgres, where PostgreSQL is installed; or PKH_TEST_POSTGRES_URL)
test: install
	$(BIN)/lint-imports
	PKH_TEST_POSTGRES_URL="$${PKH_TEST_POSTGRES_URL:-$$(sh scripts/test-postgres)}" \
	  env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n auto --dist loadscope

notebooks: install
	cd notebooks && for nb in *.ipynb; do \
	  MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false MLFLOW_LOGGING_LEVEL=WARNING PYTHONWARNINGS=ignore \
	  ../$(BIN)/jupyter-execute --inplace --timeout=600 "$$nb" || exit 1; done

mutation: install
	$(BIN)/python -m pip install --quiet -e ".[test,dask,mutation]"
	PKH_MUTATION=1 $(BIN)/mutmut run
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .pytest_cache models/mlruns.db models/artifacts demo-output mutants
