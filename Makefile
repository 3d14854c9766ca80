# The two set-up commands: `make run` and `make test`. Everything they need is installed by them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app server
PORT   ?= 5000

.PHONY: run test install system-deps test-system-deps db grids-validate bench clean

# Re-install only when the packaging files change.
$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || tools/ensure-apt.sh /nonexistent python3-venv
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[postgres,test]'
	touch $@

install: $(VENV)/.installed

db: install
	$(FLASK) db upgrade
	$(FLASK) grids import grids/yichang.geojson
	$(FLASK) demo load

run: db
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

# PostgreSQL's server binaries (initdb, pg_ctl) for the throwaway test cluster.
test-system-deps:
	tools/ensure-apt.sh /usr/lib/postgresql/15/bin/initdb postgresql-15

test: install test-system-deps
	$(PY) -m pytest

grids-validate: install
	$(PY) -m grids.validate grids/yichang.geojson --strict

bench: install
	$(PY) bench/grids_api.py
	$(PY) bench/sync_ingest.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
