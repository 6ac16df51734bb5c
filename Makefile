# GridSense: `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark

DASHBOARD_ASSETS := serving/dashboard/static/vendor/echarts.min.js

.PHONY: demo test test-fast lint venv clean-demo dashboard-assets

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build lies on disk; an open range pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# the Spark engine is an optional extra: the tests need it, the demo does not (docs/SPARK.md)
$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	@touch $(SPARK_STAMP)

venv: $(STAMP)

# front-end libraries come from npm at build time and are copied into static/vendor (git-ignored)
dashboard-assets: $(DASHBOARD_ASSETS)

$(DASHBOARD_ASSETS): serving/dashboard/package.json serving/dashboard/package-lock.json
	serving/dashboard/build_assets.sh --force

demo: $(STAMP) $(DASHBOARD_ASSETS)
	$(BIN)/gridsense demo

test: $(SPARK_STAMP) $(DASHBOARD_ASSETS)
	$(BIN)/python -m pytest

test-fast: $(SPARK_STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean-demo:
	rm -rf datasets/demo mlruns/mlflow.db mlruns/artifacts
