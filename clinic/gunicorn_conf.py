"""gunicorn's settings wherever the app is served (Procfile, Dockerfile, docker compose):
`gunicorn --config python:clinic.gunicorn_conf ...`.

The access log keeps who asked for which page, when, the status, the size and the time
taken, but never a query string (a patient search carries a surname: `?q=Smith`) nor the
token of a patient link (`/l/<token>/` is a working link), of a dermatologist's calendar
feed (`/calendar/<token>.ics`) or of a staff invitation or password reset link, and no
referrer or user agent, which can carry either.
"""

import re

from gunicorn.glogging import Logger  # type: ignore[import-untyped]  # ships no types

PATIENT_LINK = re.compile(r"^/l/[^/]*")
MASKED_LINK = "/l/<token>"
CALENDAR_FEED = re.compile(r"^/calendar/[^/]*\.ics$")
MASKED_FEED = "/calendar/<token>.ics"
# A staff invitation or password reset link: /login/setup|reset/<user>/<token>/. Django's
# view moves the token into the session and goes on to .../set-password/, kept as it is.
STAFF_LINK = re.compile(r"^(/login/(?:setup|reset)/[^/]+/)(?!set-password(?:/|$))[^/]+")

accesslog = "-"
logger_class = "clinic.gunicorn_conf.RedactingLogger"
# address, time, "method path protocol", status, bytes, seconds taken
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s'


def redacted_path(path: str) -> str:
    """The path with a patient or staff link's or a calendar feed's token masked; the query
    string is never part of it."""
    path = CALENDAR_FEED.sub(MASKED_FEED, path)
    return STAFF_LINK.sub(r"\1<token>", PATIENT_LINK.sub(MASKED_LINK, path))


class RedactingLogger(Logger):
    """gunicorn's logger, with every atom that could carry a token or a query string
    rewritten, so that even a changed access_log_format cannot bring them back."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = redacted_path(environ.get("PATH_INFO", ""))
        atoms["U"] = path
        atoms["q"] = ""
        atoms["r"] = (
            f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}"
        )
        atoms["f"] = "-"
        for name in [name for name in atoms if name.startswith("{")]:
            atoms[name] = "-"  # request and response headers (referer, cookies, …)
        return atoms
