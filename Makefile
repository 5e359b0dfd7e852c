# tfparity: `make run` (main job, quick profile, report) and `make test` (self-tests + a quick suite slice).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
EXTRA  ?= cpu
PROFILE ?= quick
LANES  ?= default
RESULTS ?= results
STAMP  := $(VENV)/.installed-$(EXTRA)

.PHONY: install browser software-gpu gpu-check run report test lint asv nightly clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e ".[$(EXTRA),dev]"
	touch $@

install: $(STAMP)

run: install software-gpu
	$(PY) -m tfparity run --profile $(PROFILE) --lanes $(LANES) --results-dir $(RESULTS); \
	status=$$?; $(PY) -m tfparity report --results-dir $(RESULTS) || exit $$?; exit $$status

report: install
	$(PY) -m tfparity report --results-dir $(RESULTS)

# Debian's Chromium for tests/test_report_browser.py (Playwright drives it; no browser download).
browser:
	@test -x /usr/bin/chromium || { sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$sudo apt-get update -q && $$sudo apt-get install -y -q chromium; }

# Mesa's software Vulkan driver (llvmpipe, Debian bookworm-backports) where no GPU is present, so the
# litert-gpu lanes (LiteRT's WebGPU accelerator over Vulkan) run on every machine; nothing to do on a machine
# with an NVIDIA GPU or with Mesa >= 25 already installed. See tools/software-gpu.
software-gpu:
	@tools/software-gpu

# One command for a machine with an NVIDIA GPU: tf-gpu and both LiteRT GPU lanes on the quick ops and models,
# then the outcome table (the run's summary) and the report. tensorflow[and-cuda] goes into its own .venv-gpu.
gpu-check:
	$(MAKE) install EXTRA=gpu VENV=.venv-gpu
	.venv-gpu/bin/python -m tfparity run --lanes tf-gpu,litert-gpu,litert-gpu-f32 --results-dir $(RESULTS)/gpu-check \
	    --timeout 120; status=$$?; .venv-gpu/bin/python -m tfparity report --results-dir $(RESULTS)/gpu-check; \
	    exit $$status

test: install browser software-gpu
	$(PY) -m ruff check .
	$(VENV)/bin/actionlint
	$(PY) -m pytest tests -q

# asv: the op registry's cases timed by asv in this environment (suites/asv; --quick: one sample each),
# recorded for the checked-out commit, then its pages in .asv/html (the report links them). `-E existing:same`
# is `--python=same` without the matrix: asv 0.6.6 runs --python=same once per matrix entry, all alike.
# The nightly matrix over tensorflow-cpu / ai-edge-litert releases: `asv run` with asv.conf.json's matrix.
asv: install
	$(VENV)/bin/asv machine --yes >/dev/null
	$(VENV)/bin/asv run -E existing:same --quick --set-commit-hash $$(git rev-parse HEAD)
	$(VENV)/bin/asv publish

# The nightly job (.github/workflows/nightly.yml runs the same script): full profile, report, asv pages.
nightly:
	.ci/nightly

clean:
	rm -rf $(VENV) .cache results .asv
