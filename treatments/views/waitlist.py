"""The waitlist: patients who want an earlier slot, offered one when a visit is cancelled."""

from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from clinic.params import id_param
from clinic.permissions import EVERY_ROLE, FRONT_DESK, has_role, role_required
from patients.models import Patient

from .. import services
from ..forms.appointments import FIRST_AVAILABLE_MAX_DAYS, WaitlistEntryForm
from ..models import WaitlistEntry
from ..selectors.appointments import waitlist_waiting


@require_GET
@role_required(*EVERY_ROLE)
def waitlist(request):
    today = timezone.localdate()
    rows = [(entry, _first_free_url(entry, today)) for entry in waitlist_waiting()]
    return render(
        request,
        "treatments/waitlist.html",
        {"rows": rows, "front_desk": has_role(request.user, FRONT_DESK)},
    )


def _first_free_url(entry: WaitlistEntry, today: date) -> str:
    """A first-available search over the days the entry still allows, booking into it;
    empty once its last day has passed."""
    start = max(entry.earliest_date, today)
    if entry.latest_date < start:
        return ""
    query = {
        "search": "1",
        "patient": entry.patient_id,
        "waitlist_entry": entry.pk,
        "procedure_type": entry.procedure_type_id,
        "dermatologist": entry.dermatologist_id or "",
        "date": start.isoformat(),
        "within_days": min((entry.latest_date - start).days + 1, FIRST_AVAILABLE_MAX_DAYS),
    }
    return f"{reverse('treatments:first_available')}?{urlencode(query)}"


@role_required(*FRONT_DESK)
def waitlist_add(request):
    patient_id = id_param(request.POST.get("patient") or request.GET.get("patient"))
    patient = get_object_or_404(Patient, pk=patient_id if patient_id is not None else 0)
    today = timezone.localdate()
    form = WaitlistEntryForm(
        request.POST or None,
        initial={
            "patient": patient.pk,
            "earliest_date": today,
            "latest_date": today + timedelta(days=30),
        },
    )
    if request.method == "POST" and form.is_valid():
        # A valid ModelForm holds the unsaved entry; the service checks and saves it.
        services.waitlist_entry_add(entry=form.instance, by=request.user)
        messages.success(
            request, gettext("%(name)s is on the waitlist.") % {"name": patient.full_name}
        )
        return redirect("treatments:waitlist")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "treatments/waitlist_form.html", {"form": form, "patient": patient}, status=status
    )


@require_POST
@role_required(*FRONT_DESK)
def waitlist_remove(request, pk):
    entry = get_object_or_404(WaitlistEntry, pk=pk)
    try:
        services.waitlist_entry_remove(entry=entry)
    except services.TransitionNotAllowed as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, gettext("%(name)s is off the waitlist.") % {"name": entry.patient.full_name}
        )
    return redirect("treatments:waitlist")
