# Two commands do all the set-up: `make serve` and `make test`. Both create .venv on first use
# with plain `python3 -m venv` + pip, and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: serve test test-long lint format bench clean setup-deepseek

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $(VENV)/.installed $@

serve: $(VENV)/.installed
	$(BIN)/ocrgate serve $(if $(CONFIG),--config $(CONFIG))

test: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-long: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(VENV)/.installed-test
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

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

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
