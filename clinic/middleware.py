"""Session limits and the two-factor gate, for every page the admin included."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

LOGIN_AT = "clinic_login_at"
LAST_SEEN = "clinic_last_seen"
# The last-seen time is written at most this often, so that not every request writes
# the session; the idle limit is exact to within this much.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


class SessionLimitsMiddleware:
    """Log a user out after CLINIC_SESSION_IDLE_MINUTES without a request, and
    CLINIC_SESSION_MAX_HOURS after logging in whatever they do (a shared front-desk
    computer must not stay logged in overnight)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            expired = self._expired(request)
            if expired:
                logout(request)
                messages.info(request, expired)
                return redirect_to_login(request)
        return self.get_response(request)

    def _expired(self, request) -> str:
        session, now = request.session, timezone.now()
        # Until the session carries its own times, the user's last_login (set by this
        # login) stands in: so the first requests after logging in write nothing.
        login_at = _read(session, LOGIN_AT) or request.user.last_login or now
        last_seen = _read(session, LAST_SEEN) or login_at
        if now - login_at > timedelta(hours=settings.CLINIC_SESSION_MAX_HOURS):
            return (
                "You were logged out: a session lasts at most a working day. Please log in again."
            )
        if now - last_seen > timedelta(minutes=settings.CLINIC_SESSION_IDLE_MINUTES):
            return "You were logged out after a time without activity. Please log in again."
        if now - last_seen >= LAST_SEEN_RESOLUTION:
            session[LOGIN_AT] = login_at.timestamp()
            session[LAST_SEEN] = now.timestamp()
        return ""


def _read(session, key):
    value = session.get(key)
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def redirect_to_login(request):
    return redirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}")


class TwoFactorRequiredMiddleware:
    """With CLINIC_REQUIRE_2FA, a logged-in user who has not passed a one-time code in this
    session reaches only the two-factor pages (verify, or enrol when they have no
    device yet) and logging out. Everything else, the admin included, sends them there."""

    # Pages a half-logged-in user needs; patient links and /healthz need no login at all.
    OPEN_URL_NAMES = {"two_factor_verify", "two_factor_enrol", "logout", "login", "healthz"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            settings.CLINIC_REQUIRE_2FA
            and request.user.is_authenticated
            and not request.user.is_verified()
            and not self._open(request)
        ):
            return redirect(
                f"{reverse('two_factor_verify')}?{urlencode({'next': request.get_full_path()})}"
            )
        return self.get_response(request)

    def _open(self, request) -> bool:
        if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return True
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.url_name in self.OPEN_URL_NAMES or match.view_name == "treatments:patient_link"
