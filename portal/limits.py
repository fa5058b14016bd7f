"""Rate limits of the public pages, counted in Django's cache (CACHES).

A fixed window: the first request under a key starts a counter that lives `window`
seconds; a request past `limit` in that window is refused with 429. With Redis as the
cache (CLINIC_CACHE_URL) every web process counts together; the embedded default's
memory cache counts per process. Keys hold a hash, never an address or a contact.

A cache that cannot be reached refuses the request (503): without a count there is no
limit.
"""

import hashlib
import logging
from http import HTTPStatus

from django.core.cache import cache
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from clinic.errors import ServiceError

logger = logging.getLogger(__name__)
HOUR = 3600
PAGES_WINDOW = 600  # public pages: per client address per 10 minutes


class TooManyRequests(ServiceError):
    status = HTTPStatus.TOO_MANY_REQUESTS


class LimitsUnavailable(ServiceError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


def limit_count(*, scope: str, key: str | None, limit: int, window: int = HOUR) -> None:
    """Count one request of `scope` under `key`; TooManyRequests once more than `limit`
    came in this window."""
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()
    name = f"portal:limit:{scope}:{digest}"
    try:
        cache.add(name, 0, timeout=window)
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.set(name, 1, timeout=window)
            count = 1
    except (OSError, RedisError) as error:
        logger.warning("Public page limits cannot be counted: %s", error)
        raise LimitsUnavailable(
            _("This page is unavailable for a moment. Please try again later.")
        ) from None
    if count > limit:
        raise TooManyRequests(
            _("Too many requests from you in a short time. Please wait a while and try again.")
        )
