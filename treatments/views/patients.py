"""The front desk's patient pages: search, register, and a patient's page."""

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from clinic.permissions import CLINICAL_READERS, EVERY_ROLE, FRONT_DESK, has_role, role_required
from patients import selectors, services
from patients.forms import PatientRegisterForm
from patients.models import Patient

from ..selectors.appointments import patient_appointments

SEARCH_PAGE_SIZE = 50
# The "Next results" link carries where its page starts, signed so that a changed or made-up
# position is refused rather than searched with.
SEARCH_AFTER_SALT = "patients.search-after"


class BadSearchLink(Exception):
    """An ?after= this app did not make; the message is shown to the receptionist."""


def _wants_partial(request) -> bool:
    # htmx restoring history after a cache miss wants the whole page, not the fragment.
    return "HX-Request" in request.headers and "HX-History-Restore-Request" not in request.headers


def _search_after(request) -> selectors.SearchPosition | None:
    """The position ?after= carries, None for the first page; BadSearchLink if it is not ours."""
    token = request.GET.get("after", "")
    if not token:
        return None
    try:
        position = signing.loads(token, salt=SEARCH_AFTER_SALT)
    except signing.BadSignature:
        position = None
    # Its shape is checked although it is signed: a link kept from before a change of the
    # format must get this message, not a 500.
    if type(position) is not int:
        raise BadSearchLink("This results link is damaged or out of date.")
    return position


def _search_results(request, context: dict, *, status: int = 200):
    template = (
        "patients/_search_results.html" if _wants_partial(request) else "patients/search.html"
    )
    response = render(request, template, context, status=status)
    # The same URL answers with a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@role_required(*EVERY_ROLE)
def patient_search(request):
    """Find a patient by name, date of birth or phone, a page at a time; htmx asks for the
    results alone."""
    query = request.GET.get("q", "").strip()
    context = {"query": query, "can_register": has_role(request.user, FRONT_DESK)}
    try:
        after = _search_after(request)
    except BadSearchLink as error:
        return _search_results(request, {**context, "bad_link": str(error)}, status=400)
    page = selectors.patient_search_page(query=query, size=SEARCH_PAGE_SIZE, after=after)
    next_token = signing.dumps(page.next_after, salt=SEARCH_AFTER_SALT) if page.next_after else ""
    context |= {
        "patients": page.patients,
        "later_page": after is not None,
        "next_token": next_token,
    }
    return _search_results(request, context)


@role_required(*FRONT_DESK)
def patient_register(request):
    """Register a patient (and a minor's guardian), after a warning about likely duplicates."""
    form = PatientRegisterForm(request.POST or None)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_register(
                patient=form.instance,
                guardian=form.guardian(),
                allow_duplicate=form.cleaned_data["allow_duplicate"],
            )
        except services.LikelyDuplicate as error:
            duplicates = error.patients
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, f"{patient.full_name} is registered.")
            return redirect("treatments:patient_detail", pk=patient.pk)
    return render(request, "patients/register.html", {"form": form, "duplicates": duplicates})


@role_required(*EVERY_ROLE)
def patient_detail(request, pk):
    """Demographics, contact, guardians and appointments; no clinical notes."""
    patient = get_object_or_404(Patient, pk=pk)
    now = timezone.now()
    appointments = list(patient_appointments(patient=patient))
    context = {
        "patient": patient,
        "guardians": patient.guardians.all(),
        "upcoming": [a for a in appointments if a.ends_at > now],
        "past": [a for a in reversed(appointments) if a.ends_at <= now],
        "can_book": has_role(request.user, FRONT_DESK),
        "can_read_chart": has_role(request.user, CLINICAL_READERS),
    }
    return render(request, "patients/detail.html", context)
