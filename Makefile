# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
LOCKED := $(VENV)/.locked
INSTALLED := $(VENV)/.installed

.PHONY: run test coverage install messages lock lint format migrate clean bench backup restore deploy-check

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Exactly the versions in requirements/dev.txt, each checked against its hash; then the app
# itself. pip check fails when the app needs a package that the lock lacks: make lock.
# uv installs them (a few seconds where pip takes a minute); pip installs uv first, from
# its own block of the lock file, hashes checked.
$(BIN)/uv: requirements/dev.txt | $(BIN)/python
	awk '/^uv==/ {block = 1; print; next} block && /^[^ ]/ {block = 0} block' \
		requirements/dev.txt > $(VENV)/uv-requirement.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r $(VENV)/uv-requirement.txt
	@touch $(BIN)/uv

$(LOCKED): requirements/dev.txt $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements/dev.txt
	@touch $(LOCKED)

$(INSTALLED): pyproject.toml requirements/dev.txt $(LOCKED)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@$(BIN)/python -m pip check || { echo "requirements/ is behind pyproject.toml: make lock"; exit 1; }
	@touch $(INSTALLED)

# The translations (locale/<language>/LC_MESSAGES/django.po) compiled by GNU gettext, as
# Django's compilemessages does, each again when its .po changes. The .mo files are built,
# not committed.
MESSAGES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))
locale/%.mo: locale/%.po | $(INSTALLED)
	@command -v msgfmt >/dev/null || apt-get install -y gettext
	$(BIN)/python manage.py compilemessages --ignore .venv --ignore node_modules --verbosity 0

install: $(INSTALLED) $(MESSAGES)

# After marking or changing texts: every language's .po brought up to date with the code
# and templates (then translate each new or changed entry; a test fails on an empty or
# fuzzy one). Without locations, so that moving code does not rewrite the files.
messages: $(INSTALLED)
	$(BIN)/python manage.py makemessages --all --no-location \
		--ignore .venv --ignore node_modules --ignore tests --ignore bench --ignore var \
		--ignore staticfiles --ignore docs --ignore deploy

# requirements/dev.txt (make install, CI) and base.txt (the image, no dev tools) from the
# ranges in pyproject.toml: every version pinned, with hashes, for Python 3.11 and later.
# Keeps each pin that still fits the ranges; `make lock UPGRADE=1` takes the newest of all.
LOCK_FLAGS = --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock: $(LOCKED)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements/dev.txt
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -c requirements/dev.txt -o requirements/base.txt

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The app with demo data, a Celery worker and beat; Ctrl-C stops all three. Static files
# collected gzipped and hashed, served compressed and cached as in production.
run: export CLINIC_STATIC_COLLECTED = 1
# Links in emails and SMS lead to the port the app runs on, unless CLINIC_BASE_URL says else.
run: export CLINIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Milia Clinic: http://127.0.0.1:$(PORT)/   (health: http://127.0.0.1:$(PORT)/healthz)"
	@echo "  Links in reminders: $(CLINIC_BASE_URL)/"
	@echo "  Demo logins: reception, dermatologist, manager; password clinic-demo"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT)

# The whole suite against DATABASE_URL / CELERY_BROKER_URL (embedded when unset), and lint.
# The tests run in PYTEST_WORKERS processes (pytest-xdist; auto: one per core, 0: in this
# process), a file's tests in one of them; each has its own database, queue and Redis
# number. PYTEST_ARGS="tests/patients" runs a part of the suite.
PYTEST_WORKERS ?= auto
PYTEST = $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(PYTEST) $(PYTEST_ARGS)

# The same suite measuring branch coverage of the app (the processes the tests start
# included), lines missed per file, and the floor in pyproject.toml. Measuring makes the
# suite about 60% slower, so `make test` (and CI) does not.
coverage: install
	$(PYTEST) --cov --cov-report=term-missing:skip-covered $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

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

# The database and the clinical photos, with checksums, in var/backups/<UTC time>/
# (CLINIC_BACKUP_DIR); the newest CLINIC_BACKUP_KEEP are kept.
backup: install
	$(BIN)/python manage.py backup

# Checks every checksum, then restores into the database and photo folder configured here.
# Refuses a database with staff or patients unless FORCE=1.
restore: install
	@test -n "$(BACKUP)" || { echo "Which one? make restore BACKUP=var/backups/<UTC time>"; exit 1; }
	$(BIN)/python manage.py restore "$(BACKUP)" $(if $(FORCE),--force)

# docker-compose.yml rendered by a real compose implementation (no Docker daemon needed)
# and checked: only the TLS proxy published, secrets from .env or the environment, one-off
# migrations, healthchecks, one beat by lock, pinned images, log and memory limits.
deploy-check: install
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 \
		|| apt-get install -y docker-compose
	$(BIN)/python deploy/deploy_check.py

clean:
	rm -rf var staticfiles
