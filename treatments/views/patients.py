"""The front desk's patient pages: search, register, and a patient's page."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from clinic.permissions import CLINICAL_READERS, EVERY_ROLE, FRONT_DESK, has_role, role_required
from patients import selectors, services
from patients.forms import PatientRegisterForm
from patients.models import Patient

from ..selectors import patient_appointments

SEARCH_LIMIT = 50


def _wants_partial(request) -> bool:
    # htmx restoring history after a cache miss wants the whole page, not the fragment.
    return "HX-Request" in request.headers and "HX-History-Restore-Request" not in request.headers


@role_required(*EVERY_ROLE)
def patient_search(request):
    """Find a patient by name, date of birth or phone; htmx asks for the results alone."""
    query = request.GET.get("q", "").strip()
    context = {
        "query": query,
        "patients": selectors.patient_search(query=query, limit=SEARCH_LIMIT),
        "limit": SEARCH_LIMIT,
        "can_register": has_role(request.user, FRONT_DESK),
    }
    template = (
        "patients/_search_results.html" if _wants_partial(request) else "patients/search.html"
    )
    response = render(request, template, context)
    # The same URL answers with a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


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
            return redirect("patient_detail", pk=patient.pk)
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
