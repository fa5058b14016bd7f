# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=clinic.settings.production

RUN useradd --create-home --uid 1000 clinic
WORKDIR /app

# The dependencies alone first, so a code change does not reinstall them: the versions
# locked in requirements/base.txt (`make lock`), each checked against its hash.
# pg_dump and pg_restore for `manage.py backup` / `restore`: Debian bookworm's are
# PostgreSQL 15, the major version of the compose database (a dump tool must not be older
# than its server).
# gettext's msgfmt compiles the translations (locale/) below.
# WeasyPrint (invoices, receipts, superbills as PDF) lays text out with Pango, in the
# local DejaVu fonts: a PDF never fetches a font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client gettext \
       libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/base.txt requirements/
RUN pip install --require-hashes -r requirements/base.txt

COPY --chown=clinic:clinic . .
# collectstatic and compilemessages (the translations, locale/) need settings, not
# secrets: throwaway values for this build step only.
RUN export DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=build \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 CELERY_BROKER_URL=memory:// \
    && python manage.py collectstatic --noinput \
    && python manage.py compilemessages --ignore .venv --ignore node_modules --verbosity 0 \
    && mkdir -p /app/var/private-media && chown -R clinic:clinic /app/var

USER clinic
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--config", "python:clinic.gunicorn_conf"]
