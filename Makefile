PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint faults bench bench-check eval screenshot clean

$(BIN)/celeriac: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# An editable install leaves celeriac's own modules uncompiled, and where
# PYTHONDONTWRITEBYTECODE is set every process compiles them again (~0.2 s of each CLI and
# worker start on 2 cores); Python still reads bytecode it did not write, and recompiles
# a module edited since.
install: $(BIN)/celeriac
	$(BIN)/python -m compileall -q -j 0 agents orchestrator workers

test: install
	$(BIN)/python -m pytest

# The fault scenarios alone (make test runs them too): killed and stopped workers, lost
# messages, a Redis restart, poison steps, duplicates, cancels, failing and hanging models.
faults: install
	$(BIN)/python -m pytest -m faults

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# ARGS go to `python -m benchmarks`: e.g. make bench ARGS="startup --quick".
bench: install
	$(BIN)/python -m benchmarks $(ARGS)

# The same run, compared with BASELINE's figures: fails on one more than 10% worse (see
# benchmarks/check.py); writes benchmarks/results/check.json, never latest.json.
# E.g. make bench-check ARGS="latency startup --tolerance 0.15".
BASELINE ?= benchmarks/results/latest.json

bench-check: install
	$(BIN)/python -m benchmarks $(ARGS) --check $(BASELINE)

# The evaluations on public data (../shared/data in development; DATA=... elsewhere).
DATA ?= ../shared/data
EVAL := benchmarks/results/eval
EVAL_RUN = CELERIAC_LLM_BACKEND=$${CELERIAC_LLM_BACKEND:-offline} $(BIN)/celeriac eval

eval: install
	mkdir -p $(EVAL)
	$(EVAL_RUN) retrieval --corpus $(DATA)/cranfield/cran.all.1400 --queries $(DATA)/cranfield/cran.qry \
		--qrels $(DATA)/cranfield/cranqrel -k 10 --json --report $(EVAL)/cranfield.html > $(EVAL)/cranfield.json
	$(EVAL_RUN) translation --source $(DATA)/flores200_devtest/eng_Latn.devtest \
		--reference $(DATA)/flores200_devtest/spa_Latn.devtest --source-lang en --target-lang es \
		--json --report $(EVAL)/flores-en-es.html > $(EVAL)/flores-en-es.json
	$(EVAL_RUN) translation --source $(DATA)/flores200_devtest/spa_Latn.devtest \
		--reference $(DATA)/flores200_devtest/eng_Latn.devtest --source-lang es --target-lang en \
		--json --report $(EVAL)/flores-es-en.html > $(EVAL)/flores-es-en.json
	$(EVAL_RUN) qa --squad $(DATA)/xquad/xquad.en.dev.json --json --report $(EVAL)/xquad-en.html \
		> $(EVAL)/xquad-en.json
	$(EVAL_RUN) qa --squad $(DATA)/xquad/xquad.en.dev.json --articles 12:24 --json \
		--report $(EVAL)/xquad-en-held-out.html > $(EVAL)/xquad-en-held-out.json
	$(EVAL_RUN) qa --squad benchmarks/data/support-qa.json --json --report $(EVAL)/support-qa.html \
		> $(EVAL)/support-qa.json
	for set in clinic bikeshare library ferry energy vet coworking isp courses; do \
		$(EVAL_RUN) qa --squad benchmarks/data/$$set-qa.json --json --report $(EVAL)/$$set-qa.html \
			> $(EVAL)/$$set-qa.json || exit 1; \
	done
	$(BIN)/python -m benchmarks.answer_bar tests/data/kb benchmarks/data/*-qa.json
	$(EVAL_RUN) relevance --squad $(DATA)/xquad/xquad.en.dev.json --json \
		--report $(EVAL)/relevance.html > $(EVAL)/relevance.json
	$(EVAL_RUN) summarization --jsonl $(DATA)/dialogsum/dialogsum.dev.jsonl --text-field dialogue \
		--reference-field summary --json --report $(EVAL)/dialogsum.html > $(EVAL)/dialogsum.json
	$(EVAL_RUN) faithfulness --claims $(DATA)/summeval/summeval.json --json \
		--report $(EVAL)/summeval.html > $(EVAL)/summeval.json

# Flower's dashboard after a few jobs, and the page of `celeriac serve`, as PNGs (needs
# Debian's chromium).
screenshot: install
	$(BIN)/python ops/screenshot.py
	$(BIN)/python ops/page_screenshot.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
