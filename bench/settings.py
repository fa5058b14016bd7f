"""Settings of `make bench`: the local settings, served like production (no debug,
persistent connections), with the bench's reference views mounted beside the app."""

from clinic.settings.local import *  # noqa: F403
from clinic.settings.local import DATABASES, MIDDLEWARE

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "bench.urls"
DATABASES["default"]["CONN_MAX_AGE"] = 600
# The load tool holds a session made for it; a one-time-password gate would turn every
# request into a redirect, for the operation and its reference alike.
MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("clinic.middleware")]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The public pages and the FHIR API limit requests per client address or per client; the
# load comes from one address and one client. The limits are still counted, per request,
# at a ceiling the load never reaches.
CLINIC_PUBLIC_PAGES_PER_IP = 1_000_000_000
FHIR_RATE_LIMIT_PER_MINUTE = 1_000_000_000
