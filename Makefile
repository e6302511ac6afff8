# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make run    create .venv, install, prepare the database (demo cohort on first run), serve,
#               and run the outbox worker and the periodic work (reminders, lapsing offers)
#               beside the site (emails become instance/outbox/*.eml until RESILIENCE_MAIL_SERVER is set)
#   make test   create or update .venv, run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app resilience
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve test venv db clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

db: venv
	$(FLASK) init-db
	$(FLASK) seed-demo --if-empty

run: db
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@$(FLASK) outbox send --loop --poll 2 & worker=$$!; \
	$(FLASK) periodic --loop --every 60 & periodic=$$!; \
	trap 'kill $$worker $$periodic 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

# The same with gunicorn (gunicorn.conf.py: workers from the CPUs, access log without private links)
# on BIND (default 127.0.0.1:8000); WEB_CONCURRENCY sets the workers.
serve: db
	@$(FLASK) outbox send --loop --poll 2 & worker=$$!; \
	$(FLASK) periodic --loop --every 60 & periodic=$$!; \
	trap 'kill $$worker $$periodic 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn -c gunicorn.conf.py

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) *.egg-info
