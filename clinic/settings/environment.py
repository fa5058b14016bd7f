"""Reading settings from the environment, strictly.

django-environ does the parsing; these helpers make a bad value stop start-up with a
message that names the variable, instead of silently becoming a default.
"""

import re
import zoneinfo
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_flag(name: str, *, default: bool) -> bool:
    """A boolean variable; anything but a clear yes or no is refused."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, *, default: int, minimum: int = 0) -> int:
    raw = env.str(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_choice(name: str, *, default: str, choices: list[str]) -> str:
    """One of a few words, e.g. a language code; anything else names the variable."""
    value = env.str(name, default=default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_currency(name: str, *, default: str) -> str:
    """An ISO 4217 currency code: three capital letters (USD, EUR)."""
    value = env.str(name, default=default).strip()
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ImproperlyConfigured(
            f"{name} must be an ISO 4217 currency code such as USD or EUR, not {value!r}"
        )
    return value


def env_required(name: str) -> str:
    """A variable that has no default (production secrets): missing or empty stops start-up."""
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set (there is no default in production)")
    return value


def env_database(name: str, *, default: str | None, sqlite_folder: Path) -> dict:
    """DATABASES['default'] from a URL; SQLite gets WAL and IMMEDIATE write transactions."""
    url = env.str(name, default=default or "")
    if not url:
        raise ImproperlyConfigured(f"{name} must be set (there is no default in production)")
    try:
        config = environ.Env.db_url_config(url)
    except Exception as error:  # django-environ raises several kinds for a bad URL
        raise ImproperlyConfigured(f"{name} is not a usable database URL: {error}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        sqlite_folder.mkdir(parents=True, exist_ok=True)
        config["OPTIONS"] = {
            # Writers queue up instead of failing with "database is locked" half-way
            # through a transaction; WAL lets readers go on while one writes.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    elif engine in ("django.db.backends.postgresql",):
        config.setdefault("CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
    else:
        raise ImproperlyConfigured(f"{name} must name PostgreSQL or SQLite, not {engine or url!r}")
    return config


def env_time_zone(name: str, *, default: str) -> str:
    value = env.str(name, default=default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} is not a known time zone: {value!r}") from None
    return value


def env_email(name: str, *, default: str) -> dict:
    url = env.str(name, default=default)
    try:
        return environ.Env.email_url_config(url)
    except Exception as error:
        raise ImproperlyConfigured(f"{name} is not a usable email URL: {error}") from None


def filesystem_broker_options(folder: Path) -> dict:
    """Kombu's filesystem transport in `folder`: one queue folder both ways, so the web
    process, beat and the worker share it. Kombu does not create the folders itself."""
    options = {
        "data_folder_in": folder / "queue",
        "data_folder_out": folder / "queue",
        "processed_folder": folder / "processed",
        "control_folder": folder / "control",
    }
    for path in options.values():
        path.mkdir(parents=True, exist_ok=True)
    return {**{key: str(path) for key, path in options.items()}, "store_processed": False}
