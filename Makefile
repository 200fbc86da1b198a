# Herald: `make run` starts the whole system locally, `make test` runs every test.
# Needs only Python >= 3.11 and make: uv is installed into .tools/ when it is not on PATH.

PYTHON ?= python3
SYSTEM_UV := $(shell command -v uv 2>/dev/null)
UV := $(if $(SYSTEM_UV),$(SYSTEM_UV),$(CURDIR)/.tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen --no-sync

.PHONY: run test chaos bench lint fmt sync clean help

help:
	@echo "make run   - the whole system on this machine (Ctrl-C stops it)"
	@echo "make test  - every test, against a real nats-server and PostgreSQL"
	@echo "make chaos - 1,000 jobs while publishers, nats-server and PostgreSQL crash (3 runs)"
	@echo "make bench - Herald vs the raw loop, Celery and dramatiq; 3 runs (long: see bench/)"
	@echo "make lint  - ruff and mypy"
	@echo "make fmt   - format and fix imports"

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.5"

# Bytecode is compiled here, once: where PYTHONDONTWRITEBYTECODE is set, every process would
# otherwise compile each module it imports again (about 3 s of CPU per service start).
.venv/.synced: Makefile pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

sync: .venv/.synced
	@$(RUN) python -m compileall -q -j 0 libs services bench tests

run: sync
	$(RUN) herald dev

test: sync
	$(RUN) pytest -W error

chaos: sync
	$(RUN) python -m tests.chaos --runs 3

bench: sync
	$(RUN) python -m bench --runs 3

lint: sync
	$(UV) lock --check
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

fmt: sync
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache
