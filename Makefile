# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
INSTALLED := $(VENV)/.installed

.PHONY: run test install lint format migrate clean bench

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(INSTALLED)

install: $(INSTALLED)

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The app with demo data, a Celery worker and beat; Ctrl-C stops all three.
run: migrate
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Milia Clinic: http://127.0.0.1:$(PORT)/   (health: http://127.0.0.1:$(PORT)/healthz)"
	@echo "  Demo logins: reception, dermatologist, manager; password clinic-demo"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT)

# The whole suite against DATABASE_URL / CELERY_BROKER_URL (embedded when unset), and lint.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Each hot page and job against its reference on PostgreSQL; writes bench/RESULTS.md.
# BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/clinic_bench) is seeded
# once; BENCH_SCALE=small|medium|full (default full, about seven minutes to seed).
bench: install
	@command -v wrk >/dev/null || apt-get install -y wrk
	@command -v pgbench >/dev/null || apt-get install -y postgresql-client
	$(BIN)/python bench/run.py

clean:
	rm -rf var staticfiles
