# thidua developer tasks. Every target installs what it needs first.
#
#   make install        .venv with the locked runtime + dev tools, project editable
#   make test           the whole pytest suite
#   make check          ruff lint, ruff format --check, mypy --strict (all three run; fails if any fails)
#   make fmt            ruff format + ruff check --fix
#   make lock           regenerate requirements.lock and requirements-bench.lock from pyproject.toml
#   make bench-install  add the benchmark-only peers (requirements-bench.lock) to .venv
#
# Regenerating the locks: `make lock` keeps every existing pin that still satisfies
# pyproject.toml (so adding a dependency changes only what it needs); to move
# everything to the newest releases use `make lock LOCK_FLAGS=--upgrade`, or one
# package with `make lock LOCK_FLAGS="--upgrade-package grpcio"`. Commit both lock files.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
# uv resolves the locks (pip-tools compatible output); pinned so locks regenerate the same way.
UV_VERSION := 0.13.9
LOCK_FLAGS ?=
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
	--no-emit-index-url --custom-compile-command "make lock" $(LOCK_FLAGS)

.PHONY: install test check fmt lock bench-install

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-runs only when the lock or pyproject.toml changes; a failed install leaves no stamp.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

test: install
	$(BIN)/pytest

check: install
	@status=0; \
	echo "+ ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "+ ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "+ mypy"; $(BIN)/mypy || status=1; \
	exit $$status

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bench peers are constrained by the main lock so that shared packages keep one version.
lock: $(BIN)/uv
	$(UV_COMPILE) --extra dev -o requirements.lock
	$(UV_COMPILE) --extra bench -c requirements.lock -o requirements-bench.lock

bench-install: $(BENCH_STAMP)

$(BENCH_STAMP): requirements-bench.lock $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-bench.lock
	touch $@

# --------------------------------------------------------------------------- gRPC service
#   make protos         regenerate service/gen/ from protos/thidua/v1/*.proto (commit the result)
#   make lint-protos    buf lint over protos/ (buf comes from npm, cached outside the tree)
#   make serve          the gRPC service on 127.0.0.1:50051 with the bundled rulesets/ (development: no auth)
#   make demo           start the service, decide the bundled khoi3 2023 bloc through the API, stop it
# npm tools (buf, and @grpc/grpc-js for the interop test) are pinned in
# protos/package.json + package-lock.json and installed into NPM_TOOLS.
NPM_TOOLS ?= $(HOME)/.cache/thidua/npm
NPM_STAMP := $(NPM_TOOLS)/.installed-$(shell cat protos/package-lock.json 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: protos lint-protos npm-tools serve demo

protos: install
	$(BIN)/python -m service.protogen

npm-tools: $(NPM_STAMP)

$(NPM_STAMP): protos/package.json protos/package-lock.json
	mkdir -p $(NPM_TOOLS)
	cp protos/package.json protos/package-lock.json $(NPM_TOOLS)/
	cd $(NPM_TOOLS) && npm ci --no-audit --no-fund --silent
	touch $@

lint-protos: $(NPM_STAMP)
	$(NPM_TOOLS)/node_modules/.bin/buf lint

serve: install
	$(BIN)/thidua serve --address 127.0.0.1:50051 --rulesets rulesets --insecure-no-auth

demo: install
	$(BIN)/python -m service.demo --rulesets rulesets --case rulesets/khoi3/cases/2023.json

# --------------------------------------------------------------------------- reliability (docs/RELIABILITY.md)
#   make reliability    full-size load, soak and fault runs, each printing its figures (about 45 minutes
#                       on 2 cores). Each starts a private PostgreSQL (bench/_pg.py; needs initdb, and
#                       runuser when run as root) and never touches a shared server. Loopback only;
#                       every run is bounded in calls and time. For a smaller run call one script
#                       with its own flags (--help).
.PHONY: reliability

reliability: install
	$(BIN)/python bench/load.py --workers 2 --clients 4 --requests 3000
	$(BIN)/python bench/soak.py --calls 200000
	$(BIN)/python bench/faults.py --kind all --writes 2000 --faults 3
