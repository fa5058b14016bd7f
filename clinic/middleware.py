"""Session limits, the two-factor gate and the refusal of control characters, for every page
the admin included."""

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

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
            return str(
                _(
                    "You were logged out: a session lasts at most a working day. "
                    "Please log in again."
                )
            )
        if now - last_seen > timedelta(minutes=settings.CLINIC_SESSION_IDLE_MINUTES):
            return str(_("You were logged out after a time without activity. Please log in again."))
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


# C0 control characters but tab, line feed and carriage return, and DEL. No field of this
# app holds one; PostgreSQL refuses NUL in text (a 500 there), and the others would be
# stored invisibly. Refused here once, for every form, search and JSON body, the admin's too.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_CHARACTER_REFUSED = _(
    "The request contains a control character (such as a NUL byte), which no field accepts."
)


class RefuseControlCharactersMiddleware:
    """Answer 400 with a message to a request whose path, query string, form fields (not
    the contents of uploaded files) or JSON strings carry a control character."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any(CONTROL_CHARACTER.search(text) for text in _texts(request)):
            if request.content_type == "application/json" or _wants_json(request):
                return JsonResponse({"error": str(CONTROL_CHARACTER_REFUSED)}, status=400)
            return HttpResponseBadRequest(
                CONTROL_CHARACTER_REFUSED, content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _texts(request) -> Iterator[str]:
    """Every piece of text the request carries that a view could read, keys included."""
    yield request.path
    yield from _query_texts(request.GET)
    if request.method in ("POST", "PUT", "PATCH"):
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            yield from _query_texts(request.POST)
            for key, uploaded in request.FILES.lists():
                yield key
                yield from (file.name or "" for file in uploaded)
        elif request.content_type == "application/json":
            try:
                body = json.loads(request.body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return  # the view answers that it is not JSON
            yield from _json_texts(body)


def _query_texts(query) -> Iterator[str]:
    for key, values in query.lists():
        yield key
        yield from values


def _json_texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_texts(item)


class StaffLanguageMiddleware:
    """Staff pages in the language the manager set for the staff member, else the
    clinic's (LANGUAGE_CODE), whatever the browser asks for. A patient's page overrides
    it with the patient's language. Reads the staff member that the role checks load
    anyway, so it costs no query of its own on a staff page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = settings.LANGUAGE_CODE
        if request.user.is_authenticated:
            staff_member = getattr(request.user, "staff_member", None)
            language = getattr(staff_member, "language", "") or language
        with translation.override(language):
            request.LANGUAGE_CODE = language
            return self.get_response(request)
