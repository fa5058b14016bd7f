"""The access log: who looked at which patient's health data, and when.

Change history (django-simple-history) answers "who changed what"; this answers "who
saw what". Views are wrapped with `audited(...)` in the URL configuration, so a view's
own code stays about the page.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from patients.models import Patient

from .models import AccessLog

# A URL's keyword arguments, as a view receives them.
ViewKwargs = dict[str, Any]
View = Callable[..., HttpResponseBase]


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address, as far as it can be trusted.

    With CLINIC_TRUSTED_PROXY_COUNT proxies in front, each appends the address it saw
    to X-Forwarded-For, so the client is the entry that many places from the right (the
    first one when the client sent no header of its own). Entries further left are
    whatever the client claimed and are ignored. Without proxies the header is ignored:
    anyone can send it. django-axes uses this too (AXES_CLIENT_IP_CALLABLE).
    """
    proxies: int = settings.CLINIC_TRUSTED_PROXY_COUNT
    forwarded: list[str] = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if proxies > 0 and len(forwarded) >= proxies:
        return forwarded[-proxies]
    remote_address: str | None = request.META.get("REMOTE_ADDR")
    return remote_address or None


def _viewer(request: HttpRequest) -> User:
    """The logged-in user: health data is only shown behind a login (role_required)."""
    return cast(User, request.user)


def access_log_record(
    *, request: HttpRequest, action: str, patient: Patient | int | None = None, detail: str = ""
) -> AccessLog:
    """Write one access-log row for the logged-in user's look at health data."""
    entry = AccessLog(
        user=_viewer(request),
        action=action,
        patient_id=getattr(patient, "pk", patient),
        path=request.get_full_path()[:500],
        ip_address=client_ip_address(request),
        detail=detail[:200],
    )
    # Foreign keys and constraints are the database's to check: validating them here
    # would cost three queries on every page that shows health data.
    entry.full_clean(exclude=["user", "patient"], validate_constraints=False)
    entry.save()
    return entry


def access_log_record_calendar_feed(
    *, request: HttpRequest, owner: User, token: str, detail: str
) -> AccessLog:
    """One row for a fetch of a dermatologist's calendar feed, which shows patients'
    initials and times. A calendar app has no session: the row names the feed's owner,
    and the action marks it as the feed's fetch. The path keeps no token."""
    entry = AccessLog(
        user=owner,
        action=AccessLog.Action.CALENDAR_FEED,
        path=request.path.replace(token, "<token>")[:500],
        ip_address=client_ip_address(request),
        detail=detail[:200],
    )
    entry.full_clean(exclude=["user", "patient"], validate_constraints=False)
    entry.save()
    return entry


def access_log_record_patients(
    *,
    request: HttpRequest,
    action: str,
    patient_ids: list[int | None],
    detail: str,
    client_id: int | None = None,
) -> list[AccessLog]:
    """One row per patient among `patient_ids` (each once), for a page or an export that
    shows several patients' data, such as an admin list; none when it names no patient.
    `client_id` names the API client (an OAuth Application) that read them, if one did:
    `request.user` is then its service account."""
    entries = [
        AccessLog(
            user=_viewer(request),
            client_id=client_id,
            action=action,
            patient_id=patient_id,
            path=request.get_full_path()[:500],
            ip_address=client_ip_address(request),
            detail=detail[:200],
        )
        for patient_id in dict.fromkeys(patient_ids)  # each once, in the page's order
    ]
    for entry in entries:
        entry.full_clean(exclude=["user", "patient", "client"], validate_constraints=False)
    return AccessLog.objects.bulk_create(entries)


def access_log_record_online(
    *, request: HttpRequest, viewer: str, patient_ids: list[int], detail: str
) -> list[AccessLog]:
    """One portal-view row per patient shown to a patient or guardian online: they have no
    user, so `viewer` is the email address or phone number they verified."""
    entries = [
        AccessLog(
            online_viewer=viewer,
            action=AccessLog.Action.PORTAL_VIEW,
            patient_id=patient_id,
            path=request.get_full_path()[:500],
            ip_address=client_ip_address(request),
            detail=detail[:200],
        )
        for patient_id in dict.fromkeys(patient_ids)
    ]
    for entry in entries:
        entry.full_clean(exclude=["user", "patient"], validate_constraints=False)
    return AccessLog.objects.bulk_create(entries)


def access_log_record_export(
    *, request: HttpRequest, patient_ids: list[int], detail: str, client_id: int | None = None
) -> list[AccessLog]:
    """An export: one row per patient in it, so "who has seen this patient's data?" finds
    exports too. An export that names no patient still leaves one row (patient empty)."""
    ids: list[int | None] = [*patient_ids] or [None]
    return access_log_record_patients(
        request=request,
        action=AccessLog.Action.EXPORT,
        patient_ids=ids,
        detail=detail,
        client_id=client_id,
    )


def audited(
    action: str,
    *,
    patient: Callable[[ViewKwargs], int | None],
    shown_with_errors: bool = False,
    detail: str = "",
) -> Callable[[View], View]:
    """Wrap a view: after a successful (2xx) response, record `action` for the patient
    that `patient(view_kwargs)` names, with `detail` saying which page. Refusals, 404s and
    redirects leave no row: nothing was shown. With `shown_with_errors`, a form page shown
    again with its errors (400) or with a newer state's conflict (409) writes its row too:
    it shows the same data as the first time."""
    shown = {400, 409} if shown_with_errors else set()

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response = view(request, *args, **kwargs)
            if 200 <= response.status_code < 300 or response.status_code in shown:
                access_log_record(
                    request=request, action=action, patient=patient(kwargs), detail=detail
                )
            return response

        return wrapped

    return decorator


# Resolvers from a URL's keyword arguments to the patient whose data it shows.


def patient_from(kwarg: str) -> Callable[[ViewKwargs], int]:
    """The patient is in the URL itself (`patients/<patient_id>/chart/`)."""
    return lambda kwargs: kwargs[kwarg]


def patient_of(model_label: str, kwarg: str) -> Callable[[ViewKwargs], int | None]:
    """The patient of the object the URL names, e.g. `patient_of("treatments.Procedure", "pk")`.

    By label, so this app needs no import of the apps that build on it.
    """

    def resolve(kwargs: ViewKwargs) -> int | None:
        model = apps.get_model(model_label)
        rows = model.objects.filter(pk=kwargs[kwarg]).values_list("patient_id", flat=True)
        patient_id: int | None = rows.first()
        return patient_id

    return resolve
