# mlops.mlflow: one command per job. Every target works on a fresh Debian bookworm machine and is idempotent.
SHELL := /bin/bash
VENV := .venv
PYTEST := $(VENV)/bin/python -m pytest
LINT_TREE := build/lint/ansible_collections/mlops/mlflow
# ansible-test checks the module code for every target Python it can find; these are the ones this machine has.
SANITY_PYTHONS ?= 3.12

# pytest-xdist workers for `make test` (tests/README.md, "Concurrency"): each has its own sandbox, S3 server and
# scratch folder, and takes the longest work first. 2 and 3 workers measured nearly the same on this 2-core machine
# (975 tests: 31 min 31 s on 2, 30 min 45 s on 3, tests/README.md "Budget"); 2 keeps each scenario's timeouts further
# from contention. `make test TEST_WORKERS=0` runs the suite serially in one process.
TEST_WORKERS ?= 2
# The test run writes the bytecode of this checkout's own modules (the sandbox, the helm double, the tests), which
# every sandbox process and helm call imports again; a container's PYTHONDONTWRITEBYTECODE=1 would make each of them
# recompile. The installed packages already have theirs (scripts/setup.sh).
unexport PYTHONDONTWRITEBYTECODE
PYTEST_XDIST := -n $(TEST_WORKERS) --dist loadscope
# `make test-quick` waits on PostgreSQL, MLflow starts and MLflow's own connection retries more than it computes: on
# 2 workers it kept the 2 cores 68 % busy (6 min 13 s); on 3, 4 min 56 s.
QUICK_WORKERS ?= 3

.PHONY: demo ee-context docs-check requirements setup test test-quick test-unit test-integration test-chart test-sandbox test-e2e test-live test-durations lint lint-ansible sanity docs-check bench clean help

help:
	@echo "make demo    - deploy, upgrade and drill MLflow in the local sandbox, with a report"
	@echo "make setup   - create .venv and install everything the collection and its tests need"
	@echo "make test    - run every test layer against real components (one pytest summary)"
	@echo "make test-quick - the unit, integration and chart layers only (the inner loop)"
	@echo "make test-live LIVE_TARGET=FILE - the live scenarios against your cluster (docs/live-testing.md)"
	@echo "make lint    - ansible-lint (production profile) and ansible-test sanity"
	@echo "make bench   - run the benchmarks in benchmarks/"
	@echo "make ee-context - the execution environment build context (ansible-builder create)"
	@echo "make requirements - regenerate the MLflow images' pinned requirement sets (UPGRADE=1: newest releases)"

setup:
	@bash scripts/setup.sh

# The pinned requirement set of each MLflow version of tests/versions.env (charts/mlflow/files/requirements), what
# the chart's BuildConfig and the sandbox's venvs install. Needs the package index; nothing else calls it. Existing
# pins are kept where they still fit; UPGRADE=1 resolves everything to the newest releases.
requirements: setup
	$(VENV)/bin/python scripts/pin_requirements.py $(if $(UPGRADE),--upgrade)

# The whole story in the local sandbox: deploy 3.4.0, upgrade twice, recovery drill, report.
demo: setup
	$(VENV)/bin/python scripts/demo.py

test: setup
	$(PYTEST) $(PYTEST_XDIST) tests

test-quick: setup
	$(PYTEST) -n $(QUICK_WORKERS) --dist loadscope tests/unit tests/integration tests/chart

test-unit: setup
	$(PYTEST) tests/unit

test-integration: setup
	$(PYTEST) $(PYTEST_XDIST) tests/integration

test-chart: setup
	$(PYTEST) $(PYTEST_XDIST) tests/chart

test-sandbox: setup
	$(PYTEST) $(PYTEST_XDIST) tests/sandbox

test-e2e: setup
	$(PYTEST) $(PYTEST_XDIST) tests/e2e

# The live scenarios (tests/live) against the cluster a target file describes (docs/live-testing.md); without
# LIVE_TARGET, against a plain-Kubernetes sandbox seen the same way (as `make test` runs them).
test-live: setup
	$(PYTEST) -v tests/live $(if $(LIVE_TARGET),--live-target $(LIVE_TARGET))

# The whole suite, writing each test's seconds to tests/durations.json (the scheduler's costs; commit the file).
test-durations: setup
	$(PYTEST) $(PYTEST_XDIST) --record-durations tests/durations.json tests

lint: setup lint-ansible sanity docs-check

lint-ansible:
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ansible-lint --profile production

# ansible-test wants the collection as a real directory at .../ansible_collections/mlops/mlflow, with its
# dependencies in the same tree. Copy what the collection ships plus its tests. The chart's Go templates are left
# out of that copy only: they are not YAML until Helm renders them (yamllint cannot parse `{{- if }}`); they are
# checked by the real Helm engine instead (strict lint and schema validation of every rendered object, tests/chart).
sanity:
	@rm -rf build/lint && mkdir -p $(LINT_TREE)
	@tar --exclude-vcs --exclude=./.venv --exclude=./.cache --exclude=./collections --exclude=./build \
	     --exclude=./sandbox --exclude=./benchmarks --exclude=./charts/*/templates --exclude=./.ansible --exclude=./.sandbox \
	     --exclude=__pycache__ --exclude=./tests/output -cf - . | tar -xf - -C $(LINT_TREE)
	@cp -a collections/ansible_collections/kubernetes collections/ansible_collections/community collections/ansible_collections/ansible \
	      build/lint/ansible_collections/
	cd $(LINT_TREE) && git init -q . && git add -A && \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ansible-test sanity --color no --python $(SANITY_PYTHONS) --requirements

# The execution environment's build context (then: ansible-builder build -c build/ee-context).
ee-context: setup
	rm -rf build/ee build/ee-context
	$(VENV)/bin/ansible-galaxy collection build --output-path build/ee --force
	$(VENV)/bin/ansible-builder create -f execution-environment.yml -c build/ee-context

# Collection docs (antsibull-docs, on the same copied tree as sanity) and changelog fragments; ansible-doc
# rendering of every plugin and role is a test (tests/integration/test_docs_render.py).
docs-check: sanity
	cd $(LINT_TREE) && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/lint \
	  antsibull-docs lint-collection-docs --check-extra-docs-refs .
	$(VENV)/bin/antsibull-changelog lint

bench: setup
	@for bench in benchmarks/bench_*.py; do echo "==> $$bench"; $(VENV)/bin/python $$bench || exit 1; done

clean:
	rm -rf build tests/output .pytest_cache
