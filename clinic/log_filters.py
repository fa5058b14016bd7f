"""A logging filter that keeps link tokens out of the app's own log lines.

Django logs every 4xx and 5xx answer as "Not Found: <path>" (django.request); for a
patient link, a staff link or a calendar feed the path is the secret. The console
handler (settings.LOGGING) masks it as gunicorn's access log does (clinic.gunicorn_conf).
"""

import logging

from .gunicorn_conf import redacted_path


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redacted_path(arg) if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


class ConflictsWithoutDetail(logging.Filter):
    """Django logs a 409 answer with the exception it came from. For a write that met
    another (clinic.views.server_error) that is the database's error, whose detail quotes
    the row's values, a patient's name among them: the line keeps the path, not the
    traceback. The handler's own line names the constraint."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 409:
            record.exc_info, record.exc_text = None, None
        return True
