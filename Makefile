# The two set-up commands: `make run` and `make test`. Everything they need is installed by them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app server
PORT   ?= 5000

.PHONY: run test install system-deps test-system-deps db grids-validate bench clean field-app

# Re-install only when the packaging files change.
$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || tools/ensure-apt.sh /nonexistent python3-venv
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[postgres,test,field]'
	touch $@

install: $(VENV)/.installed

db: install
	$(FLASK) db upgrade
	$(FLASK) grids import grids/yichang.geojson
	$(FLASK) demo load

run: db
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

# PostgreSQL's server binaries (initdb, pg_ctl) for the throwaway test cluster; an X server, Mesa's OpenGL and a
# Chinese font for the tablet app's screen tests (pytest-xvfb starts Xvfb itself); Chromium for the page tests.
test-system-deps:
	tools/ensure-apt.sh /usr/lib/postgresql/15/bin/initdb postgresql-15 \
	  -- Xvfb xvfb -- xauth xauth -- /usr/lib/x86_64-linux-gnu/libGL.so.1 libgl1 \
	  -- /usr/lib/x86_64-linux-gnu/libGLX_mesa.so.0 libglx-mesa0 \
	  -- /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so libgl1-mesa-dri \
	  -- /usr/lib/x86_64-linux-gnu/libEGL.so.1 libegl1 -- /usr/lib/x86_64-linux-gnu/libEGL_mesa.so.0 libegl-mesa0 \
	  -- /usr/lib/x86_64-linux-gnu/libmtdev.so.1 libmtdev1 -- xclip xclip \
	  -- /usr/share/fonts/truetype/wqy/wqy-microhei.ttc fonts-wqy-microhei \
	  -- /usr/bin/chromium chromium -- /usr/bin/chromedriver chromium-driver

# The grid administrator's tablet app on this machine (enroll it with a code from `flask devices enrollment-code`).
field-app: install
	$(PY) -m field_app

test: install test-system-deps
	$(PY) -m pytest

grids-validate: install
	$(PY) -m grids.validate grids/yichang.geojson --strict

bench: install
	$(PY) bench/grids_api.py
	$(PY) bench/sync_ingest.py
	$(PY) bench/sync_profile.py
	$(PY) bench/web.py
	xvfb-run -a $(PY) bench/field_app_start.py
	$(PY) bench/field_sync.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
