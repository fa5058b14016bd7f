"""The front desk's patient pages: search, register, a patient's page, and their record
edited at the desk (demographics, contact and reminders, payer, guardians)."""

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from clinic.errors import error_status, form_add_error
from clinic.permissions import CLINICAL_READERS, EVERY_ROLE, FRONT_DESK, has_role, role_required
from clinic.services import patient_details_change
from patients import selectors, services
from patients.forms import GuardianAddForm, GuardianForm, PatientEditForm, PatientRegisterForm
from patients.models import Guardian, Patient

from ..selectors.appointments import patient_appointments
from ..selectors.billing import patient_balance

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
        raise BadSearchLink(_("This results link is damaged or out of date."))
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
                by=request.user,
            )
        except services.LikelyDuplicate as error:
            duplicates = error.patients
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("%(name)s is registered.") % {"name": patient.full_name})
            return redirect("treatments:patient_detail", pk=patient.pk)
    return render(request, "patients/register.html", {"form": form, "duplicates": duplicates})


@role_required(*EVERY_ROLE)
def patient_detail(request, pk):
    """Demographics, contact, payer, guardians, appointments and the record's change
    history; no clinical notes."""
    patient = get_object_or_404(
        Patient.objects.select_related("reminder_consent_changed_by"), pk=pk
    )
    now = timezone.now()
    appointments = list(patient_appointments(patient=patient))
    front_desk = has_role(request.user, FRONT_DESK)
    context = {
        "patient": patient,
        "guardians": patient.guardians.all(),
        "upcoming": [a for a in appointments if a.ends_at > now],
        "past": [a for a in reversed(appointments) if a.ends_at <= now],
        "history": selectors.patient_history(patient=patient),
        "can_book": front_desk,
        "can_edit": front_desk,
        "can_read_chart": has_role(request.user, CLINICAL_READERS),
        # The balance is the desk's; the billing page has the lines.
        "balance": patient_balance(patient_id=patient.pk) if front_desk else None,
        "currency": settings.CLINIC_CURRENCY,
    }
    return render(request, "patients/detail.html", context)


def _edit_page(request, patient, form, *, error: str = "", status: int = 200):
    """The record's edit page: its form, and its guardians with their own buttons."""
    context = {
        "patient": patient,
        "form": form,
        "guardians": patient.guardians.all(),
        "error": error,
    }
    return render(request, "patients/edit.html", context, status=status)


@require_http_methods(["GET", "POST"])
@role_required(*FRONT_DESK)
def patient_edit(request, pk):
    """Change a patient's record: demographics, address, contact and reminder consent,
    payer. A change another desk saved meanwhile is a 409, not overwritten."""
    patient = get_object_or_404(Patient, pk=pk)
    form = PatientEditForm(request.POST or None, instance=patient)
    if request.method == "GET":
        return _edit_page(request, patient, form)
    if form.is_valid():
        seen_at = form.cleaned_data["seen_at"]
        try:
            patient_details_change(
                patient=patient, by=request.user, seen_at=seen_at, **form.changes()
            )
        except ValidationError as error:
            return _edit_page(request, patient, form, status=form_add_error(form, error))
        messages.success(request, _("%(name)s's record is saved.") % {"name": patient.full_name})
        return redirect("treatments:patient_detail", pk=patient.pk)
    return _edit_page(request, patient, form, status=400)


def _guardian_form_page(request, form, *, patient, guardian=None, status=200):
    context = {"form": form, "patient": patient, "guardian": guardian}
    return render(request, "patients/guardian_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@role_required(*FRONT_DESK)
def guardian_add(request, patient_id):
    """Add a guardian to a patient's record, who may take over receiving the reminders."""
    patient = get_object_or_404(Patient, pk=patient_id)
    form = GuardianAddForm(request.POST or None)
    if request.method == "GET":
        return _guardian_form_page(request, form, patient=patient)
    if form.is_valid():
        try:
            guardian = services.guardian_add(
                patient=patient,
                by=request.user,
                receives_reminders=form.cleaned_data["receives_reminders"],
                **form.changes(),
            )
        except ValidationError as error:
            status = form_add_error(form, error)
            return _guardian_form_page(request, form, patient=patient, status=status)
        messages.success(
            request,
            _("%(name)s is added.") % {"name": f"{guardian.first_name} {guardian.last_name}"},
        )
        return redirect("treatments:patient_edit", pk=patient.pk)
    return _guardian_form_page(request, form, patient=patient, status=400)


@require_http_methods(["GET", "POST"])
@role_required(*FRONT_DESK)
def guardian_edit(request, pk):
    """Change a guardian's name, relationship or contact details."""
    guardian = get_object_or_404(Guardian.objects.select_related("patient"), pk=pk)
    form = GuardianForm(request.POST or None, instance=guardian)
    page = {"patient": guardian.patient, "guardian": guardian}
    if request.method == "GET":
        return _guardian_form_page(request, form, **page)
    if form.is_valid():
        try:
            services.guardian_update(guardian=guardian, by=request.user, **form.changes())
        except ValidationError as error:
            return _guardian_form_page(request, form, **page, status=form_add_error(form, error))
        messages.success(
            request,
            _("%(name)s is saved.") % {"name": f"{guardian.first_name} {guardian.last_name}"},
        )
        return redirect("treatments:patient_edit", pk=guardian.patient_id)
    return _guardian_form_page(request, form, **page, status=400)


def _guardian_step(request, pk, step, done: str):
    """Do one guardian step (a POST button); a refusal shows the edit page with its reason."""
    guardian = get_object_or_404(Guardian.objects.select_related("patient"), pk=pk)
    patient = guardian.patient
    try:
        step(guardian=guardian, by=request.user)
    except ValidationError as error:
        form = PatientEditForm(instance=patient)
        return _edit_page(
            request, patient, form, error=" ".join(error.messages), status=error_status(error)
        )
    messages.success(request, done % {"name": f"{guardian.first_name} {guardian.last_name}"})
    return redirect("treatments:patient_edit", pk=patient.pk)


@require_POST
@role_required(*FRONT_DESK)
def guardian_remove(request, pk):
    """Remove a guardian from the patient's record."""
    return _guardian_step(request, pk, services.guardian_remove, _("%(name)s is removed."))


@require_POST
@role_required(*FRONT_DESK)
def guardian_make_recipient(request, pk):
    """Send the patient's reminders to this guardian instead."""
    return _guardian_step(
        request, pk, services.guardian_make_recipient, _("%(name)s now receives the reminders.")
    )
