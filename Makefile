# tfparity: `make run` (main job, quick profile, report) and `make test` (self-tests + a quick suite slice).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
EXTRA  ?= cpu
PROFILE ?= quick
LANES  ?= default
RESULTS ?= results
STAMP  := $(VENV)/.installed-$(EXTRA)

.PHONY: install run report test lint clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e ".[$(EXTRA),dev]"
	touch $@

install: $(STAMP)

run: install
	$(PY) -m tfparity run --profile $(PROFILE) --lanes $(LANES) --results-dir $(RESULTS); \
	status=$$?; $(PY) -m tfparity report --results-dir $(RESULTS) || exit $$?; exit $$status

report: install
	$(PY) -m tfparity report --results-dir $(RESULTS)

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest tests -q

clean:
	rm -rf $(VENV) .cache results
