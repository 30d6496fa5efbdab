# Sayso: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export SAYSO_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run test lint format install install-dev clean bench bench-ab bench-profile test-extension screenshots translations translations-extract

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installed-stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## translations-extract: gather every translatable string (babel.cfg) into messages.pot and
## merge it into the French and German catalogues (new strings appear untranslated there)
TRANSLATIONS := server/sayso/translations
translations-extract: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _l -k lazy_gettext -k lazy_ngettext:1,2 \
		--no-location --sort-output -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
		--no-wrap --no-fuzzy-matching --ignore-obsolete

## translations: compile the catalogues (.po) into the .mo files the server reads; the
## .mo files are committed too, and tests/unit/test_translations.py fails when stale
translations: install
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

## run: set up, migrate the embedded SQLite database, seed demo data, serve on $(HOST):$(PORT)
run: install translations
	$(BIN)/sayso db upgrade
	$(BIN)/sayso demo
	@echo "Sayso is starting on http://$(HOST):$(PORT)"
	$(BIN)/sayso run --host $(HOST) --port $(PORT)

## test: set up with the dev tools, then ruff, the whole pytest suite, and the extension's
## node tests and web-ext lint
test: install-dev translations test-extension tests/clients/node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

# The extension's dev tools (web-ext), from package-lock.json; reinstalled when it changes.
extension/node_modules/.package-lock.json: extension/package-lock.json
	npm ci --prefix extension --no-audit --no-fund
	touch $@

# The JavaScript OAuth clients the brand guide names (openid-client, oauth4webapi), which
# tests/functional/test_off_the_shelf_clients.py runs against Sayso.
tests/clients/node_modules/.package-lock.json: tests/clients/package-lock.json
	npm ci --prefix tests/clients --no-audit --no-fund
	touch $@

## test-extension: node --test unit tests, then web-ext lint of the Firefox build
test-extension: extension/node_modules/.package-lock.json
	node --test extension/test/
	cd extension && npx --no-install web-ext lint --source-dir . \
		--ignore-files 'node_modules/**' 'test/**' 'package.json' 'package-lock.json'

## screenshots: rerun the end-to-end tests that take the docs' pictures, saving
## docs/img/{extension,consumer,portal,console}-*.png
screenshots: install-dev
	SAYSO_EXTENSION_SCREENSHOTS=1 $(BIN)/pytest -q tests/e2e/test_extension.py -k sqlite
	SAYSO_E2E_SCREENSHOTS=1 $(BIN)/pytest -q -k sqlite tests/e2e/test_consumer_pages.py \
		tests/e2e/test_brand_flow.py tests/e2e/test_interests_channels.py \
		tests/e2e/test_portal_console.py

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

## bench: every benchmark scenario on SQLite and PostgreSQL; writes docs/benchmarks.md
## (BENCH_SCALE=small for a quick run; BENCH_POSTGRES_URL, BENCH_DATABASES: see bench/run.py)
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench

## bench-ab: S1 and S4 of REV (default HEAD~1) and of this checkout, served at once on one
## database and taking turns round by round: the check that a refactor changed no speed
bench-ab: $(VENV)/.installed-bench
	$(BIN)/python -m bench.ab $(or $(REV),HEAD~1)

## bench-profile: where a profile read spends its time (in process: each step timed, then cProfile)
bench-profile: $(VENV)/.installed-bench
	$(BIN)/python -m bench.hotpath

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
