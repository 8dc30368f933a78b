# ledgerlab — two commands for a newcomer: `make demo` and `make test` (and `make notebook`
# to open the example notebooks in JupyterLab).
# Both create .venv from python3 and install the project into it when it is
# missing or older than pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format bench docs notebook clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ledgerlab run scenarios/baseline.yaml --out results/baseline
	$(BIN)/ledgerlab report results/baseline
	$(BIN)/ledgerlab tokenomics --preset openledger --months 60 --out results/tokenomics
	@echo
	@echo "Where to look next:"
	@echo "  results/baseline/report/report.html   the baseline's report: question, KPIs, figures"
	@echo "  results/tokenomics/tokenomics.png     the OPEN token's unlocks and inflation, 5 years"
	@echo "  make notebook                         example notebooks in JupyterLab (quickstart,"
	@echo "                                        anti-farming comparison, tokenomics stress)"
	@echo "  $(BIN)/ledgerlab explore baseline     an interactive page: sliders, play/step, live plots"

# The example notebooks (notebooks/) in JupyterLab, installed with the `notebook` extra.
NOTEBOOK_STAMP := $(VENV)/.installed-notebook

$(NOTEBOOK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,notebook]'
	@touch $(NOTEBOOK_STAMP)

notebook: $(NOTEBOOK_STAMP)
	$(BIN)/jupyter lab notebooks/

# One BLAS thread: the suite runs one process per core, and OpenBLAS threads spinning
# against each other made small logistic fits ~15x slower on 2 cores.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(STAMP)
	$(BIN)/ledgerlab schema --markdown > docs/scenarios.md
	$(BIN)/ledgerlab metrics --markdown > docs/metrics.md

# Every benchmark in turn (each prints its own table), then one summary line per target of
# issue 15, as the benchmarks printed them ("TARGET <n>: <measured> ... PASS|FAIL"): 1a-1c
# bench_model/bench_imports, 2 bench_tokenomics, 3-4 bench_model, 5 bench_sweep, 6
# bench_twins. A target whose benchmark is not there yet is said so; a benchmark that fails
# fails the target (exit 1) after the summary.
BENCH_LOG ?= $(or $(TMPDIR),/tmp)/ledgerlab-bench.log
BENCH_TARGETS := 1a:bench_model 1b:bench_imports 1c:bench_imports 2:bench_tokenomics \
	3:bench_model 4:bench_model 5:bench_sweep 6:bench_twins

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m pip install --quiet --no-deps 'radcad>=0.14'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@: > $(BENCH_LOG); \
	for b in benchmarks/bench_*.py; do \
	  echo "== $$b"; \
	  { OPENBLAS_NUM_THREADS=1 $(BIN)/python $$b 2>&1 || echo "BENCH-ERROR $$b exited non-zero"; } \
	    | tee -a $(BENCH_LOG); \
	done; \
	echo "== targets (issue 15)"; \
	for tb in $(BENCH_TARGETS); do \
	  t=$${tb%%:*}; b=benchmarks/$${tb#*:}.py; \
	  grep -h "^TARGET $$t:" $(BENCH_LOG) \
	    || { test -f $$b && echo "TARGET $$t: not measured ($$b printed no TARGET $$t line)"; } \
	    || echo "TARGET $$t: not measured ($$b is not there yet)"; \
	done; \
	if grep -h "^BENCH-ERROR" $(BENCH_LOG); then exit 1; fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
