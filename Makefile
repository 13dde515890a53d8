# Two commands on a fresh Debian/Ubuntu machine with Python 3.11+:
#   make demo   set up .venv, run a real dunning run on the demo portfolio, write ./out
#   make test   set up .venv, run lint, types, layer contract, docs build and the whole test suite
# Both are idempotent and fast when the environment is already set up.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out

export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test lint typecheck docs bench clean system-deps setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# axe-core, the accessibility rule engine tests/test_accessibility.py runs in Chromium;
# installed from npm into the git-ignored folder $(A11Y_DIR)/ (not a runtime dependency).
AXE_CORE_VERSION := 4.14.1
A11Y_DIR         := .a11y

# System libraries WeasyPrint needs (Pango, HarfBuzz subsetting for small reproducible
# PDFs, fonts), the PostgreSQL server the store tests start (initdb, pg_ctl; a
# throwaway cluster per test session, see tests/conftest.py), and for the accessibility
# tests Debian's Chromium (driven headless by the Python playwright package; never
# `playwright install`) and npm to fetch axe-core. Installed with apt when missing and
# running as root; otherwise stop with the exact command to run.
system-deps:
	@missing=""; \
	ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so' || missing="$$missing libharfbuzz-subset0"; \
	command -v fc-list >/dev/null 2>&1 && fc-list | grep -qi dejavu || missing="$$missing fonts-dejavu-core fontconfig"; \
	pg=""; for d in /usr/lib/postgresql/*/bin; do [ -x "$$d/initdb" ] && [ -x "$$d/pg_ctl" ] && pg="$$d"; done; \
	[ -n "$$pg" ] || { command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; } || missing="$$missing postgresql"; \
	[ -x /usr/lib/chromium/chromium ] || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing system packages needed by WeasyPrint, the PostgreSQL and the accessibility tests. Run:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@grep -qs '"version": "$(AXE_CORE_VERSION)"' $(A11Y_DIR)/node_modules/axe-core/package.json || { \
	  echo "Installing axe-core $(AXE_CORE_VERSION) into $(A11Y_DIR)/"; \
	  mkdir -p $(A11Y_DIR) && \
	  npm install --silent --no-audit --no-fund --no-save --no-package-lock \
	    --prefix $(A11Y_DIR) axe-core@$(AXE_CORE_VERSION); \
	}

demo: $(STAMP)
	$(BIN)/dunning demo --out $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy dunning scoring explain

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dunning scoring explain
	$(BIN)/lint-imports
	$(BIN)/mkdocs build --strict --quiet --site-dir $$(mktemp -d)
	$(BIN)/pytest --doctest-modules --ignore=dunning/__main__.py --ignore=dunning/migrations --durations=15 dunning scoring explain tests

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_loading.py
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_clv.py
	$(BIN)/python benchmarks/bench_scoring.py
	$(BIN)/python benchmarks/bench_proposal.py
	$(BIN)/python benchmarks/bench_letters.py
	$(BIN)/python benchmarks/bench_explain.py
	$(BIN)/python benchmarks/bench_reports.py
	$(BIN)/python benchmarks/bench_cluster.py
	$(BIN)/python benchmarks/bench_run.py

clean:
	rm -rf $(VENV) site out dist build .pytest_cache .mypy_cache .ruff_cache
