"""Booking, rescheduling, the appointment page and its life-cycle actions, today's arrivals."""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import form_add_error
from clinic.models import Room, StaffMember
from clinic.params import id_param
from clinic.permissions import EVERY_ROLE, FRONT_DESK, has_role, role_required
from patients.models import Patient
from patients.selectors import patient_search

from .. import services
from ..forms.appointments import (
    AlternativesForm,
    BookingForm,
    CancelForm,
    RescheduleForm,
    SlotSearchForm,
)
from ..models import Appointment, AppointmentEvent, ProcedureType
from ..selectors.appointments import appointment_for_page, arrivals_of_day, waitlist_offers_for
from ..selectors.availability import PartOfDay, free_slots, nearest_free_slots, next_free_slot
from ..selectors.billing import self_pay_estimate

Action = AppointmentEvent.Action
SLOTS_SHOWN = 40
NO_PICKER = {"slots": None, "selected_slot": None}  # no procedure or no day chosen yet


def _slot_choices(*, procedure_type, day, dermatologist=None, exclude_appointment_id=None):
    """The free slots of a day for the picker, and the next free one when the day is full."""
    slots = free_slots(
        procedure_type=procedure_type,
        start_day=day,
        end_day=day,
        dermatologist=dermatologist,
        exclude_appointment_id=exclude_appointment_id,
        limit=SLOTS_SHOWN + 1,  # one more than shown tells whether the day has more
    )
    following = None
    if not slots:
        following = next_free_slot(procedure_type=procedure_type, dermatologist=dermatologist)
    return slots, following


def _picker_context(
    *, procedure_type, day, dermatologist, exclude_appointment_id=None, preferred_time=None
):
    """The picker's free times of a day, grouped; with a `preferred_time` (a local time:
    a gap chosen in the time grid, a waitlist offer, a first-available result) the first
    free time that starts then is `selected_slot`."""
    if procedure_type is None or day is None:
        return NO_PICKER
    slots, following = _slot_choices(
        procedure_type=procedure_type,
        day=day,
        dermatologist=dermatologist,
        exclude_appointment_id=exclude_appointment_id,
    )
    names = {d.pk: str(d) for d in StaffMember.objects.dermatologists().select_related("user")}
    rooms = {r.pk: r.name for r in Room.objects.all()}
    described = [slot_described(slot, names, rooms) for slot in slots[:SLOTS_SHOWN]]
    return {
        "slots": described,
        "slot_groups": slot_groups(described),
        "more_later": len(slots) > SLOTS_SHOWN,
        "next_free": slot_described(following, names, rooms) if following else None,
        "day": day,
        "estimate": self_pay_estimate(procedure_type=procedure_type, day=day),
        "selected_slot": next(
            (
                slot["value"]
                for slot in described
                if preferred_time is not None
                and slot["starts_at"].time().replace(second=0, microsecond=0) == preferred_time
            ),
            None,
        ),
    }


def slot_groups(described: list[dict]) -> list[dict]:
    """Free times by dermatologist (the earliest free first), then by part of the day.

    A group's room is named once when all its times share it; otherwise each time
    carries its own (`show_room`)."""
    by_dermatologist: dict[int, list[dict]] = {}
    for slot in described:
        by_dermatologist.setdefault(slot["dermatologist_id"], []).append(slot)
    groups = []
    for slots in by_dermatologist.values():
        rooms = {slot["room"] for slot in slots}
        parts = [
            {"label": part.label, "slots": [slot for slot in slots if slot["part"] == part]}
            for part in PartOfDay
        ]
        groups.append({
            "dermatologist": slots[0]["dermatologist"],
            "room": rooms.pop() if len(rooms) == 1 else None,
            "parts": [part for part in parts if part["slots"]],
        })  # fmt: skip
    return groups


def slot_described(slot, names, rooms):
    starts_at = timezone.localtime(slot.starts_at)
    return {
        "value": f"{slot.dermatologist_id}|{slot.starts_at.isoformat()}|{slot.room_id or ''}",
        "starts_at": starts_at,
        "ends_at": timezone.localtime(slot.ends_at),
        "part": PartOfDay.of(starts_at.time()),
        "dermatologist_id": slot.dermatologist_id,
        "dermatologist": names.get(slot.dermatologist_id, ""),
        "room": rooms.get(slot.room_id, ""),
    }


def _alternatives_context(alternatives):
    names = {d.pk: str(d) for d in StaffMember.objects.select_related("user")}
    rooms = {r.pk: r.name for r in Room.objects.all()}
    return [slot_described(slot, names, rooms) for slot in alternatives]


@require_GET
@role_required(*FRONT_DESK)
def slot_alternatives(request):
    """The nearest free times around a refused one (htmx partial): a taken time is answered
    at once, and its page asks for these after."""
    form = AlternativesForm(request.GET)
    if not form.is_valid():
        return render(request, "treatments/_alternatives.html", {"alternatives": []}, status=400)
    search = form.cleaned_data
    offered = nearest_free_slots(
        procedure_type=search["procedure_type"],
        around=search["around"],
        dermatologist=search["dermatologist"],
        exclude_appointment_id=search["exclude"],
    )
    context = {
        "alternatives": _alternatives_context(offered),
        "searched": True,
        "form_id": search["form"] or AlternativesForm.FORMS[0],
    }
    return render(request, "treatments/_alternatives.html", context)


@require_GET
@role_required(*FRONT_DESK)
def slot_picker(request):
    """The slot picker's partial: free times for a procedure, dermatologist and day (htmx)."""
    form = SlotSearchForm(request.GET)
    if not form.is_valid():
        return render(request, "treatments/_slot_picker.html", {"slots": None, "form": form})
    exclude = request.GET.get("exclude")
    context = _picker_context(
        procedure_type=form.cleaned_data["procedure_type"],
        day=form.cleaned_data["date"],
        dermatologist=form.cleaned_data["dermatologist"],
        exclude_appointment_id=id_param(exclude),
        preferred_time=form.preferred_time(),
    )
    return render(request, "treatments/_slot_picker.html", context)


# What a booking link may carry besides the patient, kept while the desk finds the patient.
BOOKING_LINK_PARAMETERS = (
    "procedure_type",
    "dermatologist",
    "date",
    "time",
    "waitlist_entry",
    "follow_up",
)


def _initial_from_query(request) -> dict:
    initial = {"date": timezone.localdate()}
    for name in ("patient", *BOOKING_LINK_PARAMETERS):
        if request.GET.get(name):
            initial[name] = request.GET[name]
    return initial


PATIENTS_LISTED = 20


def _choose_patient(request):
    """The booking page before its patient is known (a gap chosen in the time grid): find
    the patient, and go on to the booking page with everything the link carried."""
    query = request.GET.get("q", "").strip()
    carried = {name: request.GET[name] for name in BOOKING_LINK_PARAMETERS if request.GET.get(name)}
    return render(
        request,
        "treatments/appointment_book_patient.html",
        {
            "query": query,
            "carried": carried,
            "carried_query": urlencode(carried),
            "patients": patient_search(query=query, limit=PATIENTS_LISTED),
        },
        status=200 if request.method == "GET" else 400,
    )


@role_required(*FRONT_DESK)
def appointment_book(request):
    """Book a visit for a patient: pick the procedure, a dermatologist or any, a day, a time."""
    patient_id = id_param(request.POST.get("patient") or request.GET.get("patient"))
    patient = Patient.objects.filter(pk=patient_id).first() if patient_id is not None else None
    if patient is None:
        return _choose_patient(request)

    form = BookingForm(request.POST or None, initial=_initial_from_query(request))
    status, alternatives_url = 200, None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appointment = services.appointment_book(
                patient=data["patient"],
                procedure_type=data["procedure_type"],
                reason=data["reason"],
                waitlist_entry=data["waitlist_entry"],
                follow_up=data["follow_up"],
                booked_by=request.user,
                **data["slot"],
            )
        except services.SlotTaken as taken:
            # Answered at once; the page then asks for the nearest free times (with "any
            # dermatologist", the same time with a colleague is the best offer).
            query = AlternativesForm.query(
                procedure_type=data["procedure_type"],
                around=data["slot"]["starts_at"],
                dermatologist=data["dermatologist"],
            )
            alternatives_url = f"{reverse('treatments:slot_alternatives')}?{query}"
            status = form_add_error(form, taken, field="slot")
        except services.TransitionNotAllowed as error:  # the entry was booked or closed meanwhile
            status = form_add_error(form, error)
        except ValidationError as error:
            status = form_add_error(form, error, field="slot")
        else:
            messages.success(request, _booked_message(appointment))
            return redirect("treatments:appointment_detail", pk=appointment.pk)
    elif request.method == "POST":
        status = 400
    # From the time grid, a waitlist offer or a first-available search: that time, checked.
    # After a taken time the page fetches the day's free times itself (htmx): the refusal
    # stays as cheap as a booking.
    picker = {"picker_deferred": True} if alternatives_url else _picker_from_form(form)
    return render(
        request,
        "treatments/appointment_book.html",
        {"form": form, "patient": patient, "alternatives_url": alternatives_url, **picker},
        status=status,
    )


def _picker_from_form(form, *, exclude_appointment_id=None, procedure_type=None):
    """The picker for whatever the form holds now (bound or initial values)."""

    def value(name):
        raw = form[name].value() if name in form.fields else None
        return raw if raw not in ("", None) else None

    try:
        procedure_type_id = id_param(value("procedure_type"))
        procedure_type = procedure_type or (
            ProcedureType.objects.filter(pk=procedure_type_id, is_active=True).first()
            if procedure_type_id is not None
            else None
        )
        dermatologist_id = id_param(value("dermatologist"))
        dermatologist = (
            StaffMember.objects.dermatologists().filter(pk=dermatologist_id).first()
            if dermatologist_id is not None
            else None
        )
        day = value("date")
        day = day if hasattr(day, "year") else datetime.strptime(str(day), "%Y-%m-%d").date()
    except ValueError:
        return NO_PICKER
    return _picker_context(
        procedure_type=procedure_type,
        day=day,
        dermatologist=dermatologist,
        exclude_appointment_id=exclude_appointment_id,
        preferred_time=form.preferred_time() if "time" in form.fields else None,
    )


def _booked_message(appointment) -> str:
    """The desk's confirmation: when, with whom, and the self-pay estimate stored."""
    message = _("Booked: %(when)s.") % {"when": _when(appointment)}
    estimate = getattr(appointment, "estimate", None)  # the booking service's, if it set one
    if estimate is not None:
        message += " " + _("Self-pay estimate: %(total)s %(currency)s, tax included.") % {
            "total": estimate.total,
            "currency": estimate.currency,
        }
    return message


def _when(appointment) -> str:
    start = formats.date_format(timezone.localtime(appointment.starts_at), "D d M Y, H:i")
    return _("%(start)s with %(dermatologist)s") % {
        "start": start,
        "dermatologist": appointment.dermatologist,
    }


def _page(pk) -> Appointment:
    try:
        return appointment_for_page(pk=pk)
    except Appointment.DoesNotExist:
        raise Http404(_("No such appointment.")) from None


def _detail_context(request, appointment, **extra):
    actions = services.allowed_actions(appointment, user=request.user)
    offers = []
    if Action.REINSTATED in actions:  # a cancelled visit still ahead: offer its time
        offers = list(waitlist_offers_for(appointment=appointment)[:10])
    return {
        "appointment": appointment,
        "events": appointment.events.select_related("actor"),
        "actions": actions,
        "cancel_form": extra.pop("cancel_form", CancelForm()),
        "offers": offers,
        **extra,
    }


@require_GET
@role_required(*EVERY_ROLE)
def appointment_detail(request, pk):
    appointment = _page(pk)
    return render(
        request, "treatments/appointment_detail.html", _detail_context(request, appointment)
    )


# URL word → (the step, its service); who may take it is in services.TRANSITIONS.
ACTIONS: dict[str, tuple[str, Callable[..., Appointment]]] = {
    "confirm": (Action.CONFIRMED, services.appointment_confirm),
    "check-in": (Action.CHECKED_IN, services.appointment_check_in),
    "complete": (Action.COMPLETED, services.appointment_complete),
    "no-show": (Action.NO_SHOW, services.appointment_mark_no_show),
    "cancel": (Action.CANCELLED, services.appointment_cancel),
    "reinstate": (Action.REINSTATED, services.appointment_reinstate),
}


@require_POST
@role_required(*EVERY_ROLE)
def appointment_action(request, pk, action):
    """One life-cycle step; a step the appointment's status does not allow is a 409."""
    if action not in ACTIONS:
        raise Http404(_("No such action."))
    step, service = ACTIONS[action]
    if not has_role(request.user, services.TRANSITIONS[step].roles):
        raise PermissionDenied(_("Your role does not allow this."))
    appointment = _page(pk)
    # The arrivals list checks in with htmx and swaps just the patient's row.
    as_row = request.headers.get("HX-Request") == "true" and request.POST.get("from") == "arrivals"
    kwargs = {}
    if action == "cancel":
        cancel_form = CancelForm(request.POST)
        if not cancel_form.is_valid():
            context = _detail_context(request, appointment, cancel_form=cancel_form)
            return render(request, "treatments/appointment_detail.html", context, status=400)
        kwargs["reason"] = cancel_form.cleaned_data["reason"]
    try:
        appointment = service(appointment=appointment, by=request.user, **kwargs)
    except services.BookingError as error:
        alternatives = getattr(error, "alternatives", [])
        context = _detail_context(
            request, appointment, error=str(error), alternatives=_alternatives_context(alternatives)
        )
        template = (
            "treatments/_arrival_row.html" if as_row else "treatments/appointment_detail.html"
        )
        return render(request, template, context, status=409)
    if as_row:
        return render(
            request,
            "treatments/_arrival_row.html",
            {"appointment": appointment, "can_check_in": True},
        )
    messages.success(
        request,
        _("%(status)s: %(when)s.")
        % {"status": appointment.get_status_display(), "when": _when(appointment)},
    )
    return redirect("treatments:appointment_detail", pk=appointment.pk)


@role_required(*FRONT_DESK)
def appointment_reschedule(request, pk):
    """Move a booked or confirmed visit to another free time."""
    appointment = _page(pk)
    initial = {
        "date": timezone.localdate(appointment.starts_at),
        "dermatologist": appointment.dermatologist_id,
    }
    form = RescheduleForm(request.POST or None, initial=initial)
    status, alternatives = 200, []
    if request.method == "POST" and form.is_valid():
        try:
            services.appointment_reschedule(
                appointment=appointment, by=request.user, **form.cleaned_data["slot"]
            )
        except services.SlotTaken as taken:
            status = form_add_error(form, taken, field="slot")
            alternatives = _alternatives_context(taken.alternatives)
        except services.TransitionNotAllowed as error:
            status = form_add_error(form, error)
        except ValidationError as error:
            status = form_add_error(form, error, field="slot")
        else:
            messages.success(request, _("Moved."))
            return redirect("treatments:appointment_detail", pk=appointment.pk)
    elif request.method == "POST":
        status = 400
    picker = _picker_from_form(
        form, exclude_appointment_id=appointment.pk, procedure_type=appointment.procedure_type
    )
    return render(
        request,
        "treatments/appointment_reschedule.html",
        {"form": form, "appointment": appointment, "alternatives": alternatives, **picker},
        status=status,
    )


@require_GET
@role_required(*EVERY_ROLE)
def arrivals(request):
    """Today's patients in time order; the desk checks them in with one click."""
    return render(
        request,
        "treatments/arrivals.html",
        {
            "appointments": arrivals_of_day(),
            "can_check_in": has_role(request.user, services.TRANSITIONS[Action.CHECKED_IN].roles),
            "day": timezone.localdate(),
            "soon": timezone.now() + timedelta(minutes=30),
        },
    )
