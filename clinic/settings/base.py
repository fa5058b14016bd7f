"""Settings shared by every way of running the clinic app.

Every value that differs between a laptop and a clinic comes from an environment
variable listed in `.env.example`. The defaults here are the embedded mode: SQLite, a
filesystem broker and mail written to files, all under `var/`.
"""

from datetime import time, timedelta
from pathlib import Path
from urllib.parse import urlparse

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy

from clinic.npi import npi_is_valid

from .environment import (
    env,
    env_choice,
    env_currency,
    env_database,
    env_email,
    env_flag,
    env_int,
    env_required,
    env_time_zone,
    filesystem_broker_options,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env.str("CLINIC_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env_flag("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    # CSV import of patients and visits for clinics moving in (docs/import.md)
    "import_export",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "phonenumber_field",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "oauth2_provider",
    "patients",
    "clinic",
    # Before treatments: its seed_demo adds the demo API client to the clinic's.
    "fhir_api",
    "treatments",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A NUL byte or another control character in any input: a 400 with a message.
    "clinic.middleware.RefuseControlCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed a one-time password.
    "django_otp.middleware.OTPMiddleware",
    # Staff pages in the staff member's language (patient pages choose their own).
    "clinic.middleware.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle and absolute session limits, then the two-factor gate (admin included).
    "clinic.middleware.SessionLimitsMiddleware",
    "clinic.middleware.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Records which user made each change in the history of clinical records.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data -----------------------------------------------------------------------------
DATABASES = {
    "default": env_database(
        "DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'clinic.sqlite3'}",
        sqlite_folder=VAR_DIR,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username and address is refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "treatments:home"
LOGOUT_REDIRECT_URL = "login"

# --- Time: aware datetimes everywhere, the clinic's zone for display and working hours --
TIME_ZONE = env_time_zone("CLINIC_TIME_ZONE", default="America/New_York")
USE_I18N = True
USE_TZ = True

# --- Languages: patients' texts in their own (docs: README, "Languages") ---------------
# Every text a patient reads is rendered in the patient's language (for a minor, the
# receiving guardian's: the patient's own). Staff pages are in each staff member's
# language (STAFF_LANGUAGES), else LANGUAGE_CODE.
LANGUAGES = [("en", "English"), ("es", "Español"), ("fr", "Français")]
PATIENT_LANGUAGES = [
    ("en", gettext_lazy("English")),
    ("es", gettext_lazy("Spanish")),
    ("fr", gettext_lazy("French")),
]
# The languages of the staff pages, chosen per staff member (clinic.middleware).
STAFF_LANGUAGES = [("en", gettext_lazy("English")), ("es", gettext_lazy("Spanish"))]
LANGUAGE_CODE = env_choice(
    "CLINIC_DEFAULT_LANGUAGE", default="en", choices=[code for code, _name in LANGUAGES]
)
LOCALE_PATHS = [BASE_DIR / "locale"]
# Named date formats per language (clinic/formats/<language>/formats.py), such as
# VISIT_DAY_FORMAT: "Tuesday 8 December", "martes 8 de diciembre", "mardi 8 décembre".
FORMAT_MODULE_PATH = ["clinic.formats"]

# --- Static files: vendored Bootstrap and htmx, served by WhiteNoise ------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# `make run` collects the files gzipped and named by their hash, and WhiteNoise serves those
# (compressed, cached as immutable) instead of static/ as it is (tests, a bare runserver).
if env_flag("CLINIC_STATIC_COLLECTED", default=False):
    STORAGES["staticfiles"] = {"BACKEND": "clinic.staticfiles.CollectedStaticFilesStorage"}
    WHITENOISE_AUTOREFRESH = False
    WHITENOISE_USE_FINDERS = False

# Clinical photos: outside the static and public media paths, served only through a view
# that checks who is asking.
CLINIC_PRIVATE_MEDIA_ROOT = Path(
    env.str("CLINIC_PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private-media"))
)
CLINIC_PHOTO_MAX_BYTES = env_int("CLINIC_PHOTO_MAX_MB", default=15, minimum=1) * 1024 * 1024
# Pixels a photo may have, read from its header before decoding: 40 Mpx is more than any
# clinic camera or phone takes, and is cleaned in about 100 MB (a test pins a bound).
CLINIC_PHOTO_MAX_PIXELS = env_int("CLINIC_PHOTO_MAX_PIXELS", default=40_000_000, minimum=1_000_000)

# Backups (`manage.py backup`): one folder per backup, the newest CLINIC_BACKUP_KEEP kept.
CLINIC_BACKUP_DIR = Path(env.str("CLINIC_BACKUP_DIR", default=str(VAR_DIR / "backups")))
CLINIC_BACKUP_KEEP = env_int("CLINIC_BACKUP_KEEP", default=14, minimum=1)
# The folder of pg_dump and pg_restore when those on the PATH are older than the server.
CLINIC_PG_BIN_DIR = env.str("CLINIC_PG_BIN_DIR", default="")

# Widgets through Django's own Jinja2 templates of them (clinic/form_renderer.py): a
# refused booking, which draws its form again, went from 1.25× a booking's p50 to 1.00–1.06×.
FORM_RENDERER = "clinic.form_renderer.WidgetRenderer"
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
PHONENUMBER_DEFAULT_REGION = env.str("CLINIC_PHONE_REGION", default="US")
PHONENUMBER_DB_FORMAT = "E164"

# --- Email: files under var/mail by default, SMTP when EMAIL_URL says so ---------------
_email_url = env.str("EMAIL_URL", default="")
if _email_url.startswith("filemail:"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = urlparse(_email_url).path
elif _email_url:
    vars().update(env_email("EMAIL_URL", default=_email_url))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
# How long an SMTP connect, greeting or reply may take: a server that takes the connection
# and never answers must not hold a reminder batch until Celery's time limit.
EMAIL_TIMEOUT = env_int("CLINIC_EMAIL_TIMEOUT_SECONDS", default=20, minimum=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Milia Clinic <clinic@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery: filesystem broker under var/broker by default, Redis in production -------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(BROKER_DIR)
else:
    # Redis: a task unacknowledged this long is handed to another worker. Longer than
    # any task's hard time limit, so a slow task is not run twice. Connecting and every
    # reply have a time limit, so a Redis that vanishes without closing the connection
    # (a failover, a firewall) is noticed instead of waited on for ever.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Issue 19: a worker that lost Redis while a task ran exited for good with celery 5.7.0,
# which pyproject.toml therefore excludes. On losing the broker, 5.7.0's consumer first
# collects the connection, which detaches it from its transport, then closes it again;
# when a BRPOP was in flight (a free pool process asking for the next task) the second
# close gets as far as restoring the unacknowledged task (acks_late: the sweep still
# running), rebuilds a Redis client from the detached transport and raises
# AttributeError: 'NoneType' object has no attribute 'hostname'. That is no connection
# error, so the worker stops ("Unrecoverable error") once the task is over. An idle
# worker has nothing to restore and survived. tests/clinic/test_broker_chaos.py repeats it.
# The worker and beat then try to reconnect for as long as Redis is away, not 100 times.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task running when Redis goes away runs on to its end: the sweep needs only the
# database, and stopping it would leave its claimed reminders for the reclaim.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", default=240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=300, minimum=1)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# /healthz reports beat as stale when its heartbeat is older than this.
CLINIC_HEARTBEAT_STALE_SECONDS = env_int("CLINIC_HEARTBEAT_STALE_SECONDS", default=180, minimum=60)
# Beat runs once (clinic/beat_lock.py): how often a waiting beat retries the lock and a
# running one checks that it still holds it (seconds).
CLINIC_BEAT_LOCK_CHECK_SECONDS = env_int("CLINIC_BEAT_LOCK_CHECK_SECONDS", default=15, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # No link or feed token in a log line (clinic/log_filters.py).
    "filters": {
        "redact_tokens": {"()": "clinic.log_filters.RedactTokens"},
        "conflicts_without_detail": {"()": "clinic.log_filters.ConflictsWithoutDetail"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        }
    },
    # On the logger, so that every handler (Sentry's, say) gets the line without the detail.
    "loggers": {"django.request": {"filters": ["conflicts_without_detail"]}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

# `seed_demo` refuses to run where this is False (production).
CLINIC_DEMO_DATA_ALLOWED = True

# Patient links (no login) in reminders: the address they start with, and how long they work.
CLINIC_BASE_URL = env.str("CLINIC_BASE_URL", default="http://127.0.0.1:8000")
CLINIC_LINK_MAX_AGE = env_int("CLINIC_LINK_MAX_AGE_DAYS", default=14, minimum=1) * 86_400
# Shown to patients on link pages and in messages.
CLINIC_NAME = env.str("CLINIC_NAME", default="Milia Clinic")
CLINIC_PHONE = env.str("CLINIC_PHONE", default="+1 212 555 0100")
# On invoices, receipts and superbills: the clinic's NPI (type 2, the organisation; empty:
# not printed) and its tax id (an EIN such as 12-3456789; empty: not printed).
CLINIC_NPI = env.str("CLINIC_NPI", default="")
if CLINIC_NPI and not npi_is_valid(CLINIC_NPI):
    raise ImproperlyConfigured("CLINIC_NPI is not an NPI: ten digits with a valid check digit.")
CLINIC_TAX_ID = env.str("CLINIC_TAX_ID", default="")
# Billing (docs/billing.md): the one currency of every price, charge and payment.
CLINIC_CURRENCY = env_currency("CLINIC_CURRENCY", default="USD")

# --- Reminders: an outbox in the database, swept by beat every minute -----------------


def _hours_list(name: str, *, default: str) -> tuple[int, ...]:
    """Whole hours before a visit, e.g. "72,24"; a bad value names the variable."""
    raw = env.str(name, default=default)
    try:
        hours = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be whole hours separated by commas, not {raw!r}"
        ) from None
    if not hours or min(hours) < 1:
        raise ImproperlyConfigured(f"{name} must list at least one offset of 1 hour or more")
    return hours


def _quiet_hours(name: str, *, default: str) -> tuple[time, time] | None:
    """Quiet hours such as "21:00-08:00", clinic time, may cross midnight; empty for none."""
    raw = env.str(name, default=default).strip()
    if not raw:
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must look like 21:00-08:00, not {raw!r}") from None
    if start == end:
        raise ImproperlyConfigured(f"{name} must start and end at different times")
    return start, end


# Appointment reminders this many hours before the visit.
CLINIC_REMINDER_OFFSETS_HOURS = _hours_list("CLINIC_REMINDER_OFFSETS_HOURS", default="72,24")
# No message goes out in these hours; one due inside waits until they end.
CLINIC_QUIET_HOURS = _quiet_hours("CLINIC_QUIET_HOURS", default="21:00-08:00")
# One sweep hands the channels this many reminders per batch (one SMTP connection each).
CLINIC_REMINDER_BATCH_SIZE = env_int("CLINIC_REMINDER_BATCH_SIZE", default=50, minimum=1)
# A failed attempt is retried after 1, 5, 25 ... minutes; after this many it has failed.
CLINIC_REMINDER_MAX_ATTEMPTS = env_int("CLINIC_REMINDER_MAX_ATTEMPTS", default=5, minimum=1)
# A reminder still "sending" this long after it was claimed belongs to a dead worker and
# is handed out again. Longer than a task's hard time limit, so a live sweep keeps its rows.
CLINIC_REMINDER_RECLAIM_SECONDS = env_int("CLINIC_REMINDER_RECLAIM_SECONDS", default=600, minimum=1)
# Sent messages are marked sent together, at most this long after they left: one write
# per batch. A worker killed in between sends those messages again; 0 marks each one.
CLINIC_REMINDER_MARK_SECONDS = env_int("CLINIC_REMINDER_MARK_SECONDS", default=1, minimum=0)
# A pause after each message, for providers that limit how fast one may send.
CLINIC_REMINDER_SEND_INTERVAL_MS = env_int("CLINIC_REMINDER_SEND_INTERVAL_MS", default=0)
# /healthz turns 503 when a due reminder has waited longer than this.
CLINIC_REMINDER_BACKLOG_ALERT_SECONDS = env_int(
    "CLINIC_REMINDER_BACKLOG_ALERT_SECONDS", default=900, minimum=60
)
# /healthz turns 503 when a channel's last this-many attempts all failed (refused, timed
# out, 5xx), and when at least this many reminders were given up on in the last hour.
CLINIC_HEALTH_CHANNEL_FAILURES = env_int("CLINIC_HEALTH_CHANNEL_FAILURES", default=3, minimum=1)
CLINIC_HEALTH_FAILED_PER_HOUR = env_int("CLINIC_HEALTH_FAILED_PER_HOUR", default=1, minimum=1)

# How SMS texts name the clinic: a lock screen shows them, so no word of what it treats.
# Empty: "Your clinic" in the reader's language (clinic.channels.sms_name).
CLINIC_SMS_NAME = env.str("CLINIC_SMS_NAME", default="")
# How emails name the clinic (From, calendar entry, signature): an inbox preview and a
# shared calendar show it, so by default no word of what it treats. Empty: "Your
# clinic" in the reader's language (clinic.channels.mail_name).
CLINIC_MAIL_NAME = env.str("CLINIC_MAIL_NAME", default="")
# The calendar entry's LOCATION: the clinic's postal address, plus the room if asked.
CLINIC_ADDRESS = env.str("CLINIC_ADDRESS", default="")
CLINIC_ICS_SHOW_ROOM = env.bool("CLINIC_ICS_SHOW_ROOM", default=False)
# Dermatologists' calendar feeds (/calendar/<token>.ics): the visits from this many days
# back to this many ahead; patients as initials unless names are turned on; how often a
# calendar app is asked to refresh, and how many fetches per hour one feed is answered.
CLINIC_CALENDAR_FEED_DAYS_BACK = env_int("CLINIC_CALENDAR_FEED_DAYS_BACK", default=30, minimum=0)
CLINIC_CALENDAR_FEED_DAYS_AHEAD = env_int("CLINIC_CALENDAR_FEED_DAYS_AHEAD", default=180, minimum=1)
CLINIC_CALENDAR_FEED_NAMES = env.bool("CLINIC_CALENDAR_FEED_NAMES", default=False)
CLINIC_CALENDAR_FEED_REFRESH_MINUTES = env_int(
    "CLINIC_CALENDAR_FEED_REFRESH_MINUTES", default=15, minimum=5
)
CLINIC_CALENDAR_FEED_FETCHES_PER_HOUR = env_int(
    "CLINIC_CALENDAR_FEED_FETCHES_PER_HOUR", default=30, minimum=1
)
# SMS: files in var/sms by default; clinic.channels.TwilioSmsBackend for Twilio,
# clinic.channels.VonageSmsBackend for Vonage. SMS_FAILOVER_BACKEND (empty: none) carries
# a message the first could not hand over for a reason that is not the message's own.
SMS_BACKEND = env.str("SMS_BACKEND", default="clinic.channels.FileSmsBackend")
SMS_FAILOVER_BACKEND = env.str("SMS_FAILOVER_BACKEND", default="")
if SMS_FAILOVER_BACKEND == SMS_BACKEND:
    raise ImproperlyConfigured("SMS_FAILOVER_BACKEND must name another backend than SMS_BACKEND")
_sms_backends = {SMS_BACKEND, SMS_FAILOVER_BACKEND}
SMS_FILE_PATH = Path(env.str("SMS_FILE_PATH", default=str(VAR_DIR / "sms")))
# How long a provider's API may take to answer one message before it counts as down.
SMS_TIMEOUT_SECONDS = env_int("SMS_TIMEOUT_SECONDS", default=10, minimum=1)
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
if "clinic.channels.TwilioSmsBackend" in _sms_backends:
    # Secrets: no default, so a Twilio clinic without them stops at start, not at 3 a.m.
    TWILIO_ACCOUNT_SID = env_required("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = env_required("TWILIO_AUTH_TOKEN")
    TWILIO_FROM_NUMBER = env_required("TWILIO_FROM_NUMBER")
else:
    TWILIO_ACCOUNT_SID = TWILIO_FROM_NUMBER = ""
    # Still read: it checks the signature of Twilio's webhook for replies (clinic.sms_inbound).
    TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
VONAGE_API_BASE = env.str("VONAGE_API_BASE", default="https://rest.nexmo.com")
# Vonage requests signed with the account's signature secret instead of carrying the API
# secret: the method the dashboard names (md5hash, or the HMAC md5, sha1, sha256, sha512).
# Replies by SMS (clinic.sms_inbound) are checked with the same secret and method, and
# Twilio's with TWILIO_AUTH_TOKEN: a provider without its secret has every webhook refused.
VONAGE_SIGNATURE_SECRET = env.str("VONAGE_SIGNATURE_SECRET", default="")
VONAGE_SIGNATURE_METHOD = env.str("VONAGE_SIGNATURE_METHOD", default="md5hash")
if VONAGE_SIGNATURE_METHOD not in ("md5hash", "md5", "sha1", "sha256", "sha512"):
    raise ImproperlyConfigured(
        "VONAGE_SIGNATURE_METHOD must be md5hash, md5, sha1, sha256 or sha512, "
        f"not {VONAGE_SIGNATURE_METHOD!r}"
    )
if "clinic.channels.VonageSmsBackend" in _sms_backends:
    VONAGE_API_KEY = env_required("VONAGE_API_KEY")
    # One of the two secrets: a signature secret makes the API secret unnecessary.
    VONAGE_API_SECRET = "" if VONAGE_SIGNATURE_SECRET else env_required("VONAGE_API_SECRET")
    VONAGE_FROM = env_required("VONAGE_FROM")
else:
    VONAGE_API_KEY = VONAGE_API_SECRET = VONAGE_FROM = ""

# --- Security: login lockout, two-factor login, sessions, headers ---------------------
# Proxies in front of the app that append to X-Forwarded-For (0: clients connect
# directly, and the header, which anyone can send, is ignored).
CLINIC_TRUSTED_PROXY_COUNT = env_int("CLINIC_TRUSTED_PROXY_COUNT", default=0)
# django-axes: a username is locked out from an address after this many failed logins.
# By the pair, not by the address alone: a clinic's staff often share one address, and
# one person's typos must not lock out the whole front desk.
CLINIC_LOGIN_FAILURE_LIMIT = env_int("CLINIC_LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_FAILURE_LIMIT = CLINIC_LOGIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("CLINIC_LOGIN_COOLOFF_MINUTES", default=15, minimum=1)
)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# One rule for "the client's address", shared with the access log.
AXES_CLIENT_IP_CALLABLE = "clinic.audit.client_ip_address"

# Counters that the web processes share: the password reset request limits. Memory of
# one process by default (each gunicorn worker then counts alone); Redis in production,
# e.g. redis://redis:6379/1, so that every worker counts together.
CACHES = {"default": env.cache_url("CLINIC_CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # A cache that does not answer must not hold a request for long.
    CACHES["default"]["OPTIONS"] = {"socket_connect_timeout": 2, "socket_timeout": 2}

# Patients online (portal/): the public booking page and the patient portal. A portal
# session ends after CLINIC_PORTAL_IDLE_MINUTES without a request. The limits are counted
# in the cache above (per process unless CLINIC_CACHE_URL names Redis): public pages per
# client address per 10 minutes; codes asked for per address and per email or phone per
# hour; codes typed per address per hour (each code also allows only five tries).
CLINIC_PORTAL_IDLE_MINUTES = env_int("CLINIC_PORTAL_IDLE_MINUTES", default=15, minimum=1)
CLINIC_PUBLIC_PAGES_PER_IP = env_int("CLINIC_PUBLIC_PAGES_PER_IP", default=300, minimum=10)
CLINIC_CODES_PER_IP = env_int("CLINIC_CODES_PER_IP", default=10, minimum=1)
CLINIC_CODES_PER_CONTACT = env_int("CLINIC_CODES_PER_CONTACT", default=5, minimum=1)
CLINIC_CODE_CHECKS_PER_IP = env_int("CLINIC_CODE_CHECKS_PER_IP", default=30, minimum=5)

# Two-factor login (TOTP, django-otp): every staff user passes a one-time code after the
# password, the admin included. Off in the demo, on in production.
CLINIC_REQUIRE_2FA = env_flag("CLINIC_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = CLINIC_NAME
# The admin never shows a device's secret key: whoever reads it could make codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Sessions: logged out after 30 idle minutes, and 12 hours after logging in at the latest.
CLINIC_SESSION_IDLE_MINUTES = env_int("CLINIC_SESSION_IDLE_MINUTES", default=30, minimum=1)
CLINIC_SESSION_MAX_HOURS = env_int("CLINIC_SESSION_MAX_HOURS", default=12, minimum=1)
SESSION_COOKIE_AGE = CLINIC_SESSION_MAX_HOURS * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4): scripts, styles and images from the app only.
# No inline scripts or style attributes anywhere, the admin included; data: images for
# Bootstrap's inline SVG icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# The FHIR R4 API (fhir_api/): OAuth 2 client credentials (django-oauth-toolkit), SMART v2-style
# scopes granted per client by the manager (fhir_api.models.ApiClient), a fixed-window rate
# limit per client in the cache above (Redis in production, so every worker counts together).
OAUTH2_PROVIDER = {
    "SCOPES_BACKEND_CLASS": "fhir_api.scopes.GrantedScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("FHIR_ACCESS_TOKEN_SECONDS", default=3600, minimum=60),
    # The OAuth 2.0 Security BCP (RFC 9700) in full: tokens stored hashed and taken only
    # from the Authorization header; no implicit or password grant, no "plain" PKCE, https
    # redirects. Only client credentials are used here; the rest is refused outright.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
# DOT's own models; named here so the models that point at them (fhir_api.ApiClient,
# clinic.AccessLog.client) can say so before DOT's settings load.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
FHIR_RATE_LIMIT_PER_MINUTE = env_int("FHIR_RATE_LIMIT_PER_MINUTE", default=300, minimum=1)
# Bulk Data exports ($export): NDJSON files in the private storage beside the clinical
# photos (the volume the web and worker containers share), never under a public path.
FHIR_EXPORT_ROOT = Path(
    env.str("FHIR_EXPORT_ROOT", default=str(CLINIC_PRIVATE_MEDIA_ROOT / "fhir-exports"))
)
