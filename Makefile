# make test  - create .venv, install requirements, fetch promtool/prometheus/alertmanager, run every test
# make plan  - offline plan of the dev stack (no Pulumi CLI, no AWS credentials)
# make render STACK=dev OUT=out  - write every rendered config file for a stack
# make latency - API call -> Teams card and share of events paged, shipped vs previous read path (a model, ~20 s)
# make demo [EVENTS=file] [EXCEPTIONS=file] - the alert path locally (real Prometheus/Alertmanager/adapter) on a
#             CloudTrail sample, with noise exceptions (a YAML list; default: the bundled one); prints each Teams
#             card, writes the bodies to demo-out/cards (~2 min)
# make bench - replay (whole catalog, 1 core and all cores) vs jq, DuckDB, an orjson parse loop (one filter) and the line regex alone, best of 3 rounds
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
OUT ?= out
RECORDS ?= 1000000

.PHONY: test plan venv tools render bench latency demo

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

tools:
	bash scripts/fetch-prometheus-tools.sh

test: venv tools
	$(PY) -m pytest

plan: venv
	$(PY) -m trailwatch plan --stack $(STACK)

render: venv
	$(PY) -m trailwatch render --stack $(STACK) --out $(OUT)

bench: venv
	$(PY) bench/replay_bench.py --records $(RECORDS)

latency: venv
	$(PY) bench/latency.py

demo: venv tools
	$(PY) -m trailwatch demo $(if $(EVENTS),--events $(EVENTS)) $(if $(EXCEPTIONS),--exceptions $(EXCEPTIONS))
