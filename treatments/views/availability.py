"""The first-available search: the first free times across days, for the desk to book."""

from itertools import groupby
from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from clinic.models import Room, StaffMember
from clinic.params import id_param
from clinic.permissions import FRONT_DESK, role_required
from patients.models import Patient

from ..forms.appointments import FirstAvailableForm
from ..selectors.availability import first_available
from .appointments import slot_described

# A booking started from a waitlist entry or a follow-up keeps it through the search.
CARRIED = ("patient", "waitlist_entry", "follow_up")


@require_GET
@role_required(*FRONT_DESK)
def first_available_search(request):
    """Search, then list the results by day; with a patient, each result opens the booking
    page with that dermatologist, day and time chosen. Bad input is a 400 with the form."""
    ids = {name: id_param(request.GET.get(name)) for name in CARRIED}
    carried = {name: value for name, value in ids.items() if value is not None}
    patient = (
        Patient.objects.filter(pk=carried["patient"]).first() if "patient" in carried else None
    )
    # Its own form says "search"; the booking page's button sends a procedure if chosen.
    searched = "search" in request.GET or bool(request.GET.get("procedure_type"))
    form = FirstAvailableForm(request.GET if searched else None, initial=request.GET.dict())
    days, status = None, 200
    if searched and form.is_valid():
        days = _results_by_day(form.cleaned_data, carried if patient else None)
    elif searched:
        status = 400
    back = f"{reverse('treatments:appointment_book')}?{urlencode(carried)}" if patient else ""
    context = {"form": form, "patient": patient, "carried": carried, "days": days, "back": back}
    return render(request, "treatments/first_available.html", context, status=status)


def _results_by_day(search: dict, carried: dict | None) -> list[dict]:
    slots = first_available(
        procedure_type=search["procedure_type"],
        dermatologist=search["dermatologist"],
        part_of_day=search["part_of_day"],
        start_day=search["date"],
        within_days=search["within_days"],
    )
    names = {d.pk: str(d) for d in StaffMember.objects.dermatologists().select_related("user")}
    rooms = {r.pk: r.name for r in Room.objects.all()}
    results = [slot_described(slot, names, rooms) for slot in slots]
    for result in results:
        result["book_url"] = _booking_url(result, search, carried) if carried else ""
    return [
        {"day": day, "slots": list(slots_of_day)}
        for day, slots_of_day in groupby(results, key=lambda result: result["starts_at"].date())
    ]


def _booking_url(result: dict, search: dict, carried: dict) -> str:
    """The booking page with this result's dermatologist, day and time preselected."""
    query = {
        **carried,
        "procedure_type": search["procedure_type"].pk,
        "dermatologist": result["dermatologist_id"],
        "date": result["starts_at"].date().isoformat(),
        "time": f"{result['starts_at']:%H:%M}",
    }
    return f"{reverse('treatments:appointment_book')}?{urlencode(query)}"
