"""The public pages: online booking with a one-time code, and the patient portal.

No login: every page is for anyone (tests/clinic/test_url_access.py lists them as public)
and rate-limited per client address (429 past the limit). Nothing about a patient is
shown before a code has been verified; asking for a portal code answers the same whether
the contact is known or not. Pages are in the browser's language, kept out of search
engines and caches.
"""

from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.audit import access_log_record_online, client_ip_address
from clinic.errors import ServiceError, error_status, form_add_error
from treatments.models import ProcedureType
from treatments.selectors.availability import Slot
from treatments.services.booking import SlotTaken

from . import services
from .forms import (
    AlternativeForm,
    BookingDetailsForm,
    CodeForm,
    PortalRequestForm,
    PreferencesForm,
    SlotForm,
    SlotSearchForm,
)
from .limits import PAGES_WINDOW, limit_count
from .models import CODE_MINUTES
from .selectors import bookable_dermatologists, online_free_slots, portal_patient, portal_patients

PORTAL_COOKIE = "clinic_portal"


def _page(request: HttpRequest, template: str, context: dict | None = None, *, status: int = 200):
    clinic = {"clinic_name": settings.CLINIC_NAME, "clinic_phone": settings.CLINIC_PHONE}
    return render(request, template, {**clinic, **(context or {})}, status=status)


def public_page(view):
    """Rate-limit per client address, answer in the browser's language, and keep the page
    out of caches and search engines (with its <meta name="robots">)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with translation.override(translation.get_language_from_request(request)):
            try:
                limit_count(
                    scope="page-ip",
                    key=client_ip_address(request),
                    limit=settings.CLINIC_PUBLIC_PAGES_PER_IP,
                    window=PAGES_WINDOW,
                )
            except ServiceError as error:
                response = _refused(request, error)
            else:
                response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapped


def _refused(
    request: HttpRequest, error: ServiceError, *, status: int | None = None, **context: Any
) -> HttpResponse:
    status = status or error_status(error)
    context = {"message": str(error), **context}
    response = _page(request, "portal/refused.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(PAGES_WINDOW)
    return response


# --- Booking ----------------------------------------------------------------------------


@public_page
@require_GET
def book_start(request: HttpRequest) -> HttpResponse:
    """Step 1: the visit type, a dermatologist or any, and the free times from a day."""
    form = SlotSearchForm(request.GET or None)
    slots = []
    if form.is_valid():
        dermatologists = {member.pk: member for member in bookable_dermatologists()}
        procedure_type = form.cleaned_data["procedure_type"]
        slots = [
            (slot, dermatologists.get(slot.dermatologist_id), _slot_query(procedure_type, slot))
            for slot in online_free_slots(
                procedure_type=procedure_type,
                dermatologist=form.cleaned_data["dermatologist"],
                day=form.cleaned_data["day"] or timezone.localdate(),
            )
        ]
    context = {"form": form, "slots": slots}
    return _page(request, "portal/book_start.html", context, status=400 if form.errors else 200)


@public_page
@require_http_methods(["GET", "POST"])
def book_details(request: HttpRequest) -> HttpResponse:
    """Step 2: who the visit is for and where to send the code; the code is sent."""
    if request.method == "GET":
        chosen = SlotForm(request.GET)
        if not chosen.is_valid():
            return _refused(request, ServiceError(_("Choose a time first.")), restart=True)
        form = BookingDetailsForm(initial=chosen.cleaned_data)
        return _page(request, "portal/book_details.html", _details_context(form, chosen))
    form = BookingDetailsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        channel, contact = data["contact"]
        try:
            code = services.code_send(
                purpose=services.Purpose.BOOKING,
                channel=channel,
                contact=contact,
                ip_address=client_ip_address(request),
                request=_booking_request(data),
            )
        except ServiceError as error:
            if error_status(error) == 429:
                return _refused(request, error)
            status = form_add_error(form, error)
        else:
            return redirect("portal:booking_verify", code.reference)
    else:
        status = 400
    chosen = SlotForm(request.POST)
    chosen.is_valid()
    return _page(request, "portal/book_details.html", _details_context(form, chosen), status=status)


def _slot_query(procedure_type: ProcedureType, slot: Slot) -> str:
    """The details page's query for a free time, in the clinic's local time."""
    return urlencode(
        {
            "procedure_type": procedure_type.pk,
            "dermatologist": slot.dermatologist_id,
            "starts_at": timezone.localtime(slot.starts_at).isoformat(),
        }
    )


def _details_context(form: BookingDetailsForm, chosen: SlotForm) -> dict:
    data = getattr(chosen, "cleaned_data", {})
    return {"form": form, "chosen": data if len(data) == 3 else None}


def _booking_request(data: dict) -> dict:
    """What the booking needs once the code is verified, kept with the code."""
    return {
        "procedure_type": data["procedure_type"].pk,
        "dermatologist": data["dermatologist"].pk,
        "starts_at": data["starts_at"].isoformat(),
        "for_child": data["booking_for"] == BookingDetailsForm.FOR_CHILD,
        "first_name": data["first_name"],
        "last_name": data["last_name"],
        "date_of_birth": data["date_of_birth"].isoformat(),
        "guardian_first_name": data["guardian_first_name"],
        "guardian_last_name": data["guardian_last_name"],
        "language": translation.get_language(),
        "reminders": data["reminders"],
    }


@public_page
@require_http_methods(["GET", "POST"])
def booking_verify(request: HttpRequest, reference: str) -> HttpResponse:
    """Step 3: the code; then the booking, or the nearest free times if it was taken."""
    form = CodeForm(request.POST or None, initial={"code": request.GET.get("code", "")})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            booking = services.online_booking_confirm(
                reference=reference,
                digits=form.cleaned_data["code"],
                ip_address=client_ip_address(request),
            )
        except SlotTaken as taken:
            return _alternatives(request, reference, taken)
        except ServiceError as error:
            if error_status(error) in (409, 429):
                return _refused(request, error, restart=True)
            status = form_add_error(form, error, field="code")
        else:
            return _booked(request, booking)
    elif request.method == "POST":
        status = 400
    context = {"form": form, "minutes": CODE_MINUTES}
    return _page(request, "portal/book_verify.html", context, status=status)


@public_page
@require_POST
def booking_choose(request: HttpRequest, reference: str) -> HttpResponse:
    """Another free time, for a booker whose code is verified and whose time was taken."""
    chosen = AlternativeForm(request.POST)
    if not chosen.is_valid():
        return _refused(request, ServiceError(_("Choose a time first.")), restart=True)
    try:
        booking = services.online_booking_choose(
            reference=reference,
            starts_at=chosen.cleaned_data["starts_at"],
            dermatologist_id=chosen.cleaned_data["dermatologist"].pk,
        )
    except SlotTaken as taken:
        return _alternatives(request, reference, taken)
    except ServiceError as error:
        return _refused(request, error, restart=True)
    return _booked(request, booking)


def _alternatives(request: HttpRequest, reference: str, taken: SlotTaken) -> HttpResponse:
    dermatologists = {member.pk: member for member in bookable_dermatologists()}
    context = {
        "reference": reference,
        "alternatives": [
            (slot, dermatologists.get(slot.dermatologist_id)) for slot in taken.alternatives
        ],
    }
    return _page(request, "portal/book_taken.html", context, status=409)


def _booked(request: HttpRequest, booking: services.OnlineBooking) -> HttpResponse:
    appointment = booking.appointment
    access_log_record_online(
        request=request,
        viewer=booking.contact,
        patient_ids=[appointment.patient_id],
        detail="online booking, booked",
    )
    return _page(request, "portal/book_done.html", {"appointment": appointment})


# --- The portal -------------------------------------------------------------------------


def _portal_session(request: HttpRequest) -> services.PortalSession | None:
    key = request.COOKIES.get(PORTAL_COOKIE)
    return services.portal_session_resume(key=key) if key else None


def _without_session(response: HttpResponse) -> HttpResponse:
    response.delete_cookie(PORTAL_COOKIE, path="/portal/")
    return response


@public_page
@require_http_methods(["GET", "POST"])
def portal_home(request: HttpRequest) -> HttpResponse:
    """With a session: the patient's and their children's visits, aftercare and
    preferences. Without: the form that asks for a code (the same answer for a known
    contact and an unknown one)."""
    session = _portal_session(request)
    if session is not None and request.method == "GET":
        return _portal_overview(request, session)
    form = PortalRequestForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        channel, contact = form.cleaned_data["contact"]
        try:
            code = services.portal_code_send(
                channel=channel, contact=contact, ip_address=client_ip_address(request)
            )
        except ServiceError as error:
            if error_status(error) == 429:
                return _refused(request, error)
            status = form_add_error(form, error)
        else:
            return redirect("portal:portal_verify", code.reference)
    elif request.method == "POST":
        status = 400
    response = _page(request, "portal/portal_request.html", {"form": form}, status=status)
    return _without_session(response) if PORTAL_COOKIE in request.COOKIES else response


def _portal_overview(request: HttpRequest, session: services.PortalSession) -> HttpResponse:
    patients = portal_patients(contact=session.contact)
    access_log_record_online(
        request=request,
        viewer=session.contact,
        patient_ids=[entry.patient.pk for entry in patients],
        detail="patient portal",
    )
    forms = [
        PreferencesForm(
            initial={
                "preferred_channel": entry.patient.preferred_channel,
                "language": entry.patient.language,
                "reminder_consent": entry.patient.reminder_consent,
            },
            prefix=f"patient-{entry.patient.pk}",
        )
        for entry in patients
    ]
    context = {"patients": list(zip(patients, forms, strict=True)), "session": session}
    return _page(request, "portal/portal_home.html", context)


@public_page
@require_http_methods(["GET", "POST"])
def portal_verify(request: HttpRequest, reference: str) -> HttpResponse:
    """The code (typed, or filled in by the emailed link); the right one opens a session."""
    form = CodeForm(request.POST or None, initial={"code": request.GET.get("code", "")})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            key = services.portal_session_start(
                reference=reference,
                digits=form.cleaned_data["code"],
                ip_address=client_ip_address(request),
            )
        except ServiceError as error:
            if error_status(error) in (409, 429):
                return _refused(request, error, portal=True)
            status = form_add_error(form, error, field="code")
        else:
            response = redirect("portal:portal_home")
            response.set_cookie(
                PORTAL_COOKIE,
                key,
                path="/portal/",
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
            return response
    elif request.method == "POST":
        status = 400
    context = {"form": form, "minutes": CODE_MINUTES}
    return _page(request, "portal/portal_verify.html", context, status=status)


@public_page
@require_POST
def portal_preferences(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Change one patient's reminder channel, language and consent."""
    session = _portal_session(request)
    if session is None:
        return _without_session(redirect("portal:portal_home"))
    patient = portal_patient(contact=session.contact, patient_id=patient_id)
    if patient is None:
        refusal = ServiceError(_("There is no such patient here."))
        return _refused(request, refusal, status=404, portal=True)
    form = PreferencesForm(request.POST, prefix=f"patient-{patient.pk}")
    if form.is_valid():
        try:
            services.portal_patient_preferences_change(
                session=session, patient=patient, **form.cleaned_data
            )
        except ServiceError as error:
            return _refused(request, error, portal=True)
        except ValidationError as error:
            return _refused(request, ServiceError(error.messages), portal=True)
        return redirect(f"{reverse('portal:portal_home')}?saved={patient.pk}")
    return _refused(request, ServiceError(_("Choose from the options shown.")), portal=True)


@public_page
@require_POST
def portal_logout(request: HttpRequest) -> HttpResponse:
    session = _portal_session(request)
    if session is not None:
        services.portal_session_end(session=session)
    return _without_session(_page(request, "portal/portal_logged_out.html"))


@public_page
@require_GET
def robots_txt(request: HttpRequest) -> HttpResponse:
    """Search engines stay off the whole site: the public pages and everything behind them."""
    return HttpResponse("User-agent: *\nDisallow: /\n", content_type="text/plain")
