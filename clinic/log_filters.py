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
