# The two commands of the README: `make run` (the offline sandbox) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run install test lint typecheck unit redis-server browser deploy-check clean

# The whole bot on this machine, offline, with a web chat page (README, "Sandbox").
# Its own redis-server unless REDIS_URL is set.
run: $(BIN)/.installed $(if $(REDIS_URL),,redis-server)
	exec $(BIN)/telegram-bot sandbox

install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The tests and the sandbox start their own redis-server unless REDIS_URL is set.
# The same binary runs the Sentinel tests' Sentinels (redis-server <conf> --sentinel).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# The browser test drives Debian's Chromium through chromedriver: a large
# install, so only when either is missing. Where it cannot be installed the
# browser test is skipped, except in CI, where it fails. The page's emoji need
# a colour emoji font (Noto Color Emoji): without one they are empty boxes.
browser:
	@{ command -v chromium && command -v chromedriver && \
		fc-list 2>/dev/null | grep -qi "color emoji"; } >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji; } || \
		echo "warning: chromium, chromium-driver and fonts-noto-color-emoji could not be" \
			"installed; the browser test will be skipped" >&2

# The Prometheus alert rules, their unit tests and the scrape configuration
# (deploy/prometheus), checked by promtool from Debian's prometheus package,
# installed when missing. In CI (CI set) a promtool that cannot be installed
# fails the build; elsewhere the check is skipped with a warning (as is
# tests/deploy/test_monitoring.py's).
deploy-check:
	@if ! command -v promtool >/dev/null 2>&1; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends prometheus; } >/dev/null 2>&1 || true; fi
	@if command -v promtool >/dev/null 2>&1; then \
		promtool check rules deploy/prometheus/alerts.yml && \
		cd deploy/prometheus && promtool check config prometheus.yml >/dev/null && \
		promtool test rules alerts_test.yml; \
	elif [ -n "$$CI" ]; then \
		echo "error: promtool could not be installed; CI must check deploy/prometheus" >&2; exit 1; \
	else \
		echo "warning: promtool could not be installed; deploy/prometheus is not checked" >&2; fi

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# Two workers (pytest-xdist): the tests mostly wait on processes and Redis, not the CPU.
unit: $(BIN)/.installed redis-server browser
	$(BIN)/pytest --numprocesses=2 --dist=worksteal

test: lint typecheck deploy-check unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
