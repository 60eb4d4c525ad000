# make test  - create .venv, install requirements, fetch promtool/prometheus/alertmanager, run every test
# make plan  - offline plan of the dev stack (no Pulumi CLI, no AWS credentials)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: test plan venv tools

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
