"""Production: every secret comes from the environment, and there are no embedded defaults.

`python manage.py check --deploy --fail-level WARNING` passes with these settings.
"""

from .base import *  # noqa: F403
from .base import CLINIC_TRUSTED_PROXY_COUNT, VAR_DIR
from .environment import env_database, env_flag, env_int, env_required

DEBUG = env_flag("DJANGO_DEBUG", default=False)
SECRET_KEY = env_required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_required("DJANGO_ALLOWED_HOSTS").split(",")
DATABASES = {"default": env_database("DATABASE_URL", default=None, sqlite_folder=VAR_DIR)}
CELERY_BROKER_URL = env_required("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS only, behind a proxy that terminates TLS and sets X-Forwarded-Proto. The header is
# believed only when CLINIC_TRUSTED_PROXY_COUNT says such a proxy stands in front (compose:
# Caddy); without one, anyone could send it.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if CLINIC_TRUSTED_PROXY_COUNT else None
)
SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
# /healthz is probed over plain HTTP by the container healthcheck.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

CLINIC_DEMO_DATA_ALLOWED = False
# Every staff user passes a one-time code after the password (the demo may go without).
CLINIC_REQUIRE_2FA = env_flag("CLINIC_REQUIRE_2FA", default=True)
