"""The booking endpoint for programs: JSON in, JSON out, the desk's rules and guarantee."""

import json

from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from clinic.permissions import FRONT_DESK, role_required

from .. import services
from ..forms.appointments import AlternativesForm, BookingRequestForm, FirstAvailableRequestForm
from ..selectors.availability import first_available, nearest_free_slots


def _slot_json(slot) -> dict:
    return {
        "dermatologist": slot.dermatologist_id,
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "room": slot.room_id,
    }


@require_POST
@role_required(*FRONT_DESK)
def appointment_book_api(request):
    """Book from a JSON body: 201 with the visit; 400 with the fields' errors; 409 when the
    time is taken, with `alternatives_url`, where a GET finds the nearest free times. Never
    a 500 for what the client sent."""
    try:
        body = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JsonResponse({"error": "The body is not JSON."}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": "The body must be a JSON object."}, status=400)
    form = BookingRequestForm({k: v for k, v in body.items() if v is not None})
    if not form.is_valid():
        return JsonResponse(
            {"error": "The booking is not valid.", "fields": form.errors.get_json_data()},
            status=400,
        )
    try:
        appointment = services.appointment_book(booked_by=request.user, **form.cleaned_data)
    except services.SlotTaken as taken:
        # Answered at once: the nearest free times are a GET away, for a client that wants them.
        query = AlternativesForm.query(
            procedure_type=form.cleaned_data["procedure_type"],
            around=form.cleaned_data["starts_at"],
            dermatologist=form.cleaned_data["dermatologist"],
        )
        url = f"{reverse('treatments:alternatives_api')}?{query}"
        return JsonResponse({"error": str(taken), "alternatives_url": url}, status=409)
    except services.BookingError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse(
        {
            "id": appointment.pk,
            "starts_at": appointment.starts_at.isoformat(),
            "ends_at": appointment.ends_at.isoformat(),
            "room": appointment.room_id,
        },
        status=201,
    )


@require_GET
@role_required(*FRONT_DESK)
def first_available_api(request):
    """The first free times across days as JSON: `procedure_type` (id) and optionally
    `dermatologist` (id), `part_of_day` (morning, afternoon, evening), `date` (the first
    day, today if absent), `within_days` (60) and `limit` (10). 400 with the fields' errors."""
    form = FirstAvailableRequestForm(request.GET)
    if not form.is_valid():
        return JsonResponse(
            {"error": "The search is not valid.", "fields": form.errors.get_json_data()},
            status=400,
        )
    search = form.cleaned_data
    slots = first_available(
        procedure_type=search["procedure_type"],
        dermatologist=search["dermatologist"],
        part_of_day=search["part_of_day"],
        start_day=search["date"],
        within_days=search["within_days"],
        limit=search["limit"],
    )
    return JsonResponse({"slots": [_slot_json(slot) for slot in slots]})


@require_GET
@role_required(*FRONT_DESK)
def alternatives_api(request):
    """The nearest free times around a taken one as JSON (a refused booking links here):
    `procedure_type` and `around` (ISO 8601), optionally `dermatologist` and `exclude` (a
    visit being moved). 400 with the fields' errors."""
    form = AlternativesForm(request.GET)
    if not form.is_valid():
        return JsonResponse(
            {"error": "The search is not valid.", "fields": form.errors.get_json_data()},
            status=400,
        )
    search = form.cleaned_data
    slots = nearest_free_slots(
        procedure_type=search["procedure_type"],
        around=search["around"],
        dermatologist=search["dermatologist"],
        exclude_appointment_id=search["exclude"],
    )
    return JsonResponse({"alternatives": [_slot_json(slot) for slot in slots]})
