# Timings: docs/measured.md (2 cores, with .venv and .tools in place; the first run sets them up, about 5.5 min).
# make demo [EVENTS=file] [EXCEPTIONS=file] - the alert path on this machine (about 2 min): real Prometheus,
#             Alertmanager and Teams adapter on a CloudTrail sample (default: examples/demo) with noise exceptions
#             (a YAML list; default: the bundled one); prints each Teams card, writes the bodies to demo-out/cards
# make plan [STACK=dev] - offline plan of a stack, no Pulumi CLI, no AWS credentials (about 8 s)
# make test  - every test in 4 pytest workers (about 9-10 min): first creates .venv, installs requirements and the
#             project (editable), fetches promtool/prometheus/alertmanager
# make latency - API call -> Teams card and share of events paged, shipped vs tuned vs previous read path (about 1.5 min)
# make render STACK=dev OUT=out  - write every rendered config file for a stack
# make wheel [DIST=dir] - build the distribution's wheel into dist/ from a temporary copy of the sources (nothing
#             else is written into the checkout)
# make bench [RECORDS=n] [ROUNDS=n] - replay (whole catalog, 1 core and all cores) vs jq, DuckDB (1 and all
#             threads) and the orjson parse floor (one filter), on the same records as CloudTrail's S3 gzip documents
#             and as JSON lines, in one run of 3 rounds, each tool's fastest counting (about 3 min a round for
#             1,000,000 records, plus about 2 min to generate them the first time)
SHELL := bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
OUT ?= out
RECORDS ?= 1000000
ROUNDS ?= 3
DIST ?= dist
# What the wheel is built from (pyproject.toml maps these folders into the trailwatch package).
WHEEL_SOURCES := pyproject.toml README.md trailwatch components configs examples/demo docker/adapter

.PHONY: test plan venv tools render bench latency demo wheel

# The project itself goes in editable (.venv/bin/trailwatch works from any folder) without touching the pinned
# dependencies: --no-deps, and the setuptools of requirements-dev.txt as its build backend.
# Each step says what it does (pip's output condensed to a line every ten packages): a fresh set-up takes a few
# minutes and is never silent for long.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@echo "make: creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)
	@echo "make: installing the pinned packages of requirements.txt and requirements-dev.txt with their dependencies"
	@set -o pipefail; $(PY) -m pip install --disable-pip-version-check --progress-bar off \
		-r requirements.txt -r requirements-dev.txt | awk -f scripts/pip-progress.awk
	@echo "make: installing trailwatch itself (editable: $(VENV)/bin/trailwatch runs this checkout)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --no-index -e .
	@touch $@

venv: $(VENV)/.installed

wheel: venv
	tmp=$$(mktemp -d) && tar -cf - --exclude=__pycache__ $(WHEEL_SOURCES) | tar -xf - -C $$tmp && \
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --no-index -w $(DIST) $$tmp; \
	status=$$?; rm -rf $$tmp; exit $$status

tools:
	bash scripts/fetch-prometheus-tools.sh

# Four workers on any machine: the slow tests mostly wait on Prometheus/Alertmanager timers, not on a core.
# One worker per test file (loadfile) keeps each file's module fixtures started once.
test: venv tools
	$(PY) -m pytest -n 4 --dist loadfile

plan: venv
	$(PY) -m trailwatch plan --stack $(STACK)

render: venv
	$(PY) -m trailwatch render --stack $(STACK) --out $(OUT)

bench: venv
	$(PY) bench/replay_bench.py --records $(RECORDS) --repeat $(ROUNDS)

latency: venv
	$(PY) bench/latency.py

demo: venv tools
	$(PY) -m trailwatch demo $(if $(EVENTS),--events $(EVENTS)) $(if $(EXCEPTIONS),--exceptions $(EXCEPTIONS))
