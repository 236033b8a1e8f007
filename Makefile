# Staffroom — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FLASK := $(PY) -m flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# Links in the demo's e-mails point at the local server unless a public address is given.
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/staffroom_test

.PHONY: run test test-sqlite test-postgres install translations extract-translations migrate demo bench lint clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	@$(VENV)/bin/pybabel -q compile -d translations

migrate: install
	STAFFROOM_ENV=development $(FLASK) db upgrade

demo: migrate
	STAFFROOM_ENV=development PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(FLASK) demo load

# Web (gunicorn) + Celery worker + Celery beat on the embedded default (SQLite, filesystem broker).
run: demo
	@STAFFROOM_ENV=development HOST=$(HOST) PORT=$(PORT) PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(PY) -m app.core.devrun

test: install
	$(MAKE) --no-print-directory test-sqlite
	@if [ "$$STAFFROOM_REQUIRE_SERVICES" = "1" ] || $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL not reachable on 127.0.0.1:5432: PostgreSQL pass skipped (.ci/run makes it required)"; fi

test-sqlite: install
	@echo "== test suite on SQLite =="
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install
	@echo "== test suite on PostgreSQL =="
	$(PY) -m app.core.ensure_database "$(PG_TEST_URL)"
	TEST_DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check app tests bench config.py wsgi.py

clean:
	rm -rf $(VENV) instance .pytest_cache

# Re-extract every translatable string and merge it into the Chinese catalogue (then translate the new entries).
extract-translations: $(STAMP)
	$(VENV)/bin/pybabel -q extract -F translations/babel.cfg -k _l -k N_ -k lazy_gettext -k _lp:1c,2 -k lazy_pgettext:1c,2 -o translations/messages.pot .
	$(VENV)/bin/pybabel -q update -i translations/messages.pot -d translations -l zh --no-fuzzy-matching
