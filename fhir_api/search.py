"""Search parameters → querysets, and the rows of each resource type loaded with all their
resources show (one query per page, whatever its length).

A search answers a `SearchPage`: the resources of one page, the total, and the patients
whose data the page shows (for the access log). Unknown parameters are refused (400), so
a typo never widens a search silently."""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from clinic.clock import day_bounds
from clinic.models import Room, StaffMember
from patients.models import Guardian, Lesion, Patient
from treatments.models import Appointment, ClinicalPhoto, Procedure, ProcedureType
from treatments.selectors.availability import Slot, free_slots

from . import resources as fhir
from .outcomes import FhirError

Resource = dict[str, Any]
DEFAULT_COUNT = 20
MAX_COUNT = 100
# The longest span one Slot search computes.
MAX_SLOT_DAYS = 92
DEFAULT_SLOT_DAYS = 7
# Parameters every search takes (paging), and those any client may send that change nothing.
PAGING = {"_count", "_offset"}
HARMLESS = {"_format", "_pretty"}


@dataclass
class SearchPage:
    resources: list[Resource]
    total: int
    patient_ids: list[int] = field(default_factory=list)
    included: list[Resource] = field(default_factory=list)


def _one(params: QueryDict, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise FhirError(400, f"Give {name} once.")
    return values[0] if values else None


def _int(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise FhirError(400, f"{what} must be a number, not {text!r}.")
    return int(text)


def _reference_id(text: str, resource_type: str) -> int:
    """`123` or `Patient/123` (or a full URL ending so) → 123."""
    tail = text.rsplit("/", 2)
    if len(tail) >= 2 and tail[-2] != resource_type:
        raise FhirError(400, f"{text!r} is not a {resource_type} reference.")
    return _int(tail[-1], f"A {resource_type} id")


def _token(text: str, system: str | None = None) -> str:
    """`code` or `system|code`; a system other than `system` finds nothing (400)."""
    given_system, bar, code = text.rpartition("|")
    if bar and system is not None and given_system and given_system != system:
        raise FhirError(400, f"Unknown code system {given_system!r}.")
    return code


DATE_PREFIX = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.+)$")


def _date_bounds(value: str) -> tuple[datetime, datetime]:
    """The instants a FHIR date or dateTime value covers: a whole clinic day for a date."""
    day = parse_date(value) if len(value) == 10 else None
    if day is not None:
        return day_bounds(day)
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise FhirError(400, f"{value!r} is not a FHIR date or dateTime.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment, moment + timedelta(seconds=1)


def date_range(values: Iterable[str]) -> tuple[datetime | None, datetime | None]:
    """[lower, upper) from `date=ge...&date=lt...` (eq, gt, ge, lt, le)."""
    lower: datetime | None = None
    upper: datetime | None = None
    for value in values:
        match = DATE_PREFIX.match(value)
        assert match is not None  # `.+` matches any non-empty text
        prefix, text = match[1] or "eq", match[2]
        first, after = _date_bounds(text)
        bounds: tuple[datetime | None, datetime | None]
        if prefix == "eq":
            bounds = (first, after)
        elif prefix == "ge":
            bounds = (first, None)
        elif prefix == "gt":
            bounds = (after, None)
        elif prefix == "lt":
            bounds = (None, first)
        elif prefix == "le":
            bounds = (None, after)
        else:
            raise FhirError(400, f"The date prefix {prefix!r} is not supported.")
        if bounds[0] is not None:
            lower = bounds[0] if lower is None else max(lower, bounds[0])
        if bounds[1] is not None:
            upper = bounds[1] if upper is None else min(upper, bounds[1])
    return lower, upper


def paging(params: QueryDict) -> tuple[int, int]:
    count_text, offset_text = _one(params, "_count"), _one(params, "_offset")
    count = DEFAULT_COUNT if count_text is None else _int(count_text, "_count")
    offset = 0 if offset_text is None else _int(offset_text, "_offset")
    return min(count, MAX_COUNT), offset


# A filter takes the queryset and the parameter's values and narrows it.
Filter = Callable[[QuerySet[Any], list[str]], QuerySet[Any]]


def _ids(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    return queryset.filter(pk__in=[_int(value, "_id") for value in ",".join(values).split(",")])


def _of_patient(lookup: str = "patient_id") -> Filter:
    return lambda queryset, values: queryset.filter(
        **{f"{lookup}__in": [_reference_id(value, "Patient") for value in values]}
    )


def _active(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    if values not in (["true"], ["false"]):
        raise FhirError(400, "active is true or false.")
    return queryset.filter(is_active=values == ["true"])


def _patient_name(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    for value in values:
        queryset = queryset.filter(Q(first_name__icontains=value) | Q(last_name__icontains=value))
    return queryset


def _birthdate(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    lower, upper = date_range(values)
    if lower is not None:
        queryset = queryset.filter(date_of_birth__gte=timezone.localdate(lower))
    if upper is not None:
        queryset = queryset.filter(date_of_birth__lt=timezone.localdate(upper))
    return queryset


def _identifier(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    return queryset.filter(mrn__in=[_token(value, fhir.mrn_system()) for value in values])


def _phone(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    for value in values:
        digits = re.sub(r"\D", "", value)
        if len(digits) < 6:
            raise FhirError(400, "Give at least six digits of the phone number.")
        queryset = queryset.filter(phone__endswith=digits)
    return queryset


def _staff_name(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    for value in values:
        queryset = queryset.filter(
            Q(user__first_name__icontains=value) | Q(user__last_name__icontains=value)
        )
    return queryset


def _practitioner(lookup: str) -> Filter:
    return lambda queryset, values: queryset.filter(
        **{f"{lookup}__in": [_reference_id(value, "Practitioner") for value in values]}
    )


def _starting(lookup: str) -> Filter:
    def narrow(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
        lower, upper = date_range(values)
        if lower is not None:
            queryset = queryset.filter(**{f"{lookup}__gte": lower})
        if upper is not None:
            queryset = queryset.filter(**{f"{lookup}__lt": upper})
        return queryset

    return narrow


FHIR_TO_APPOINTMENT_STATUS: dict[str, list[str]] = {}
for _ours, _theirs in fhir.APPOINTMENT_STATUS.items():
    FHIR_TO_APPOINTMENT_STATUS.setdefault(_theirs, []).append(_ours)


def _appointment_status(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    codes = ",".join(values).split(",")
    unknown = [code for code in codes if code not in FHIR_TO_APPOINTMENT_STATUS]
    if unknown:
        raise FhirError(400, f"Unknown appointment status {', '.join(unknown)}.")
    return queryset.filter(
        status__in=[ours for code in codes for ours in FHIR_TO_APPOINTMENT_STATUS[code]]
    )


def _service_type(lookup: str) -> Filter:
    return lambda queryset, values: queryset.filter(
        **{f"{lookup}__in": [_token(value, fhir.procedure_type_system()) for value in values]}
    )


def _clinical_status(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    codes = set(",".join(values).split(","))
    if not codes <= {"active", "resolved"}:
        raise FhirError(400, "clinical-status is active or resolved here.")
    statuses = ([*Lesion.CURRENT] if "active" in codes else []) + (
        [Lesion.Status.RESOLVED] if "resolved" in codes else []
    )
    return queryset.filter(status__in=statuses)


def _procedure_code(queryset: QuerySet[Any], values: list[str]) -> QuerySet[Any]:
    return queryset.filter(procedure_code__in=[_token(value, fhir.CPT) for value in values])


@dataclass(frozen=True)
class Finder:
    """How to find one resource type's rows and show them."""

    rows: Callable[[], QuerySet[Any]]
    show: Callable[[Any], Resource]
    filters: dict[str, Filter]
    # The patient a row is about, for the access log; None for resources about nobody.
    patient_of: Callable[[Any], int] | None = None


def _procedure_show(procedure: Procedure) -> Resource:
    return fhir.procedure_resource(procedure, lesions=list(procedure.lesions.all()))


def _photo_show(photo: ClinicalPhoto) -> Resource:
    lesion = photo.lesion
    site = (lesion.site, lesion.get_site_display()) if lesion is not None else None
    return fhir.media_resource(photo, site=site)


def _dermatologists() -> QuerySet[StaffMember]:
    return StaffMember.objects.dermatologists().select_related("user").order_by("pk")


def _with_hours() -> QuerySet[StaffMember]:
    return _dermatologists().prefetch_related("working_hours")


def _role_show(staff_member: StaffMember) -> Resource:
    return fhir.practitioner_role_resource(
        staff_member, service_ids=getattr(staff_member, "service_ids", [])
    )


FINDERS: dict[str, Finder] = {
    "Patient": Finder(
        rows=lambda: Patient.objects.order_by("pk"),
        show=fhir.patient_resource,
        filters={
            "_id": _ids,
            "name": _patient_name,
            "family": lambda qs, values: qs.filter(last_name__iexact=values[0]),
            "given": lambda qs, values: qs.filter(first_name__iexact=values[0]),
            "birthdate": _birthdate,
            "identifier": _identifier,
            "phone": _phone,
        },
        patient_of=lambda patient: patient.pk,
    ),
    "RelatedPerson": Finder(
        rows=lambda: Guardian.objects.order_by("pk"),
        show=fhir.related_person_resource,
        filters={"_id": _ids, "patient": _of_patient()},
        patient_of=lambda guardian: guardian.patient_id,
    ),
    "Practitioner": Finder(
        rows=_dermatologists,
        show=fhir.practitioner_resource,
        filters={"_id": _ids, "name": _staff_name, "active": _active},
    ),
    "PractitionerRole": Finder(
        rows=_with_hours,
        show=_role_show,
        filters={"_id": _ids, "practitioner": _practitioner("pk"), "active": _active},
    ),
    "HealthcareService": Finder(
        rows=lambda: ProcedureType.objects.order_by("sort_order", "pk"),
        show=fhir.healthcare_service_resource,
        filters={
            "_id": _ids,
            "active": _active,
            "name": lambda qs, values: qs.filter(name__icontains=values[0]),
        },
    ),
    "Schedule": Finder(
        rows=_dermatologists,
        show=fhir.schedule_resource,
        filters={"_id": _ids, "actor": _practitioner("pk"), "active": _active},
    ),
    "Appointment": Finder(
        rows=lambda: Appointment.objects.select_related(
            "dermatologist__user", "procedure_type"
        ).order_by("starts_at", "pk"),
        show=fhir.appointment_resource,
        filters={
            "_id": _ids,
            "patient": _of_patient(),
            "practitioner": _practitioner("dermatologist_id"),
            "actor": _practitioner("dermatologist_id"),
            "date": _starting("starts_at"),
            "status": _appointment_status,
            "service-type": _service_type("procedure_type__slug"),
        },
        patient_of=lambda appointment: appointment.patient_id,
    ),
    "Condition": Finder(
        rows=lambda: Lesion.objects.order_by("pk"),
        show=fhir.condition_resource,
        filters={"_id": _ids, "patient": _of_patient(), "clinical-status": _clinical_status},
        patient_of=lambda lesion: lesion.patient_id,
    ),
    "Procedure": Finder(
        rows=lambda: (
            Procedure.objects.filter(status=Procedure.Status.SIGNED)
            .select_related("procedure_type", "dermatologist__user")
            .prefetch_related("lesions", "amendments")
            .order_by("performed_at", "pk")
        ),
        show=_procedure_show,
        filters={
            "_id": _ids,
            "patient": _of_patient(),
            "date": _starting("performed_at"),
            "code": _procedure_code,
        },
        patient_of=lambda procedure: procedure.patient_id,
    ),
    "Media": Finder(
        rows=lambda: ClinicalPhoto.objects.select_related("lesion").order_by("pk"),
        show=_photo_show,
        filters={"_id": _ids, "patient": _of_patient()},
        patient_of=lambda photo: photo.patient_id,
    ),
}
INCLUDES = {"Appointment": {"Appointment:patient"}}


def search_parameters(resource_type: str) -> list[str]:
    """The parameters a type's search takes, for the CapabilityStatement."""
    if resource_type == "Slot":
        return ["_id", "service-type", "schedule", "start", "status"]
    if resource_type == "Location":
        return ["_id"]
    return list(FINDERS[resource_type].filters)


def _check_names(params: QueryDict, allowed: Iterable[str]) -> None:
    unknown = set(params) - set(allowed) - PAGING - HARMLESS - {"_include"}
    if unknown:
        raise FhirError(400, f"Unsupported search parameter(s): {', '.join(sorted(unknown))}.")


def _filtered(resource_type: str, params: QueryDict) -> QuerySet[Any]:
    finder = FINDERS[resource_type]
    _check_names(params, finder.filters)
    queryset = finder.rows()
    for name, narrow in finder.filters.items():
        values = [value for value in params.getlist(name) if value]
        if values:
            queryset = narrow(queryset, values)
    return queryset


def show_rows(resource_type: str, rows: list[Any]) -> list[Resource]:
    if resource_type == "PractitionerRole":
        # One query for every role on the page: the services they all offer.
        service_ids = list(
            ProcedureType.objects.filter(is_active=True).values_list("pk", flat=True)
        )
        for row in rows:
            row.service_ids = service_ids
    return [FINDERS[resource_type].show(row) for row in rows]


def patients_of(resource_type: str, rows: list[Any]) -> list[int]:
    """The patients these rows are about (none for a type about nobody)."""
    patient_of = FINDERS[resource_type].patient_of
    return [patient_of(row) for row in rows] if patient_of else []


def search(resource_type: str, params: QueryDict) -> SearchPage:
    """One page of a search of `resource_type` (a type the API serves)."""
    if resource_type == "Slot":
        return slot_search(params)
    if resource_type == "Location":
        return _location_search(params)
    includes = set(params.getlist("_include"))
    if not includes <= INCLUDES.get(resource_type, set()):
        raise FhirError(400, f"Unsupported _include: {', '.join(sorted(includes))}.")
    count, offset = paging(params)
    queryset = _filtered(resource_type, params)
    total = queryset.count()
    rows = list(queryset[offset : offset + count]) if count else []
    page = SearchPage(show_rows(resource_type, rows), total, patients_of(resource_type, rows))
    if "Appointment:patient" in includes:
        patients = Patient.objects.filter(pk__in={row.patient_id for row in rows}).order_by("pk")
        page.included = [fhir.patient_resource(patient) for patient in patients]
    return page


def read(resource_type: str, resource_id: str) -> tuple[Resource, int | None]:
    """One resource and the patient it is about; FhirError 404 when there is none."""
    if resource_type == "Slot":
        return slot_read(resource_id), None
    if resource_type == "Location":
        return _location_read(resource_id), None
    if not resource_id.isdigit() or len(resource_id) > 18:
        raise FhirError(404, f"{resource_type}/{resource_id} does not exist.")
    row = FINDERS[resource_type].rows().filter(pk=int(resource_id)).first()
    if row is None:
        raise FhirError(404, f"{resource_type}/{resource_id} does not exist.")
    patients = patients_of(resource_type, [row])
    return show_rows(resource_type, [row])[0], patients[0] if patients else None


def model_of(resource_type: str) -> type[Model]:
    model: type[Model] = FINDERS[resource_type].rows().model
    return model


# --- Location: the clinic and its rooms ------------------------------------------------


def _locations() -> list[Resource]:
    rooms = Room.objects.order_by("pk")
    return [fhir.clinic_location_resource(), *(fhir.room_location_resource(room) for room in rooms)]


def _location_search(params: QueryDict) -> SearchPage:
    _check_names(params, ["_id"])
    count, offset = paging(params)
    locations = _locations()
    wanted = params.getlist("_id")
    if wanted:
        ids = set(",".join(wanted).split(","))
        locations = [location for location in locations if location["id"] in ids]
    return SearchPage(locations[offset : offset + count], len(locations))


def _location_read(resource_id: str) -> Resource:
    if resource_id == fhir.CLINIC_LOCATION_ID:
        return fhir.clinic_location_resource()
    number = resource_id.removeprefix("room-")
    room = (
        Room.objects.filter(pk=int(number)).first()
        if number.isdigit() and len(number) < 18
        else None
    )
    if room is None or not resource_id.startswith("room-"):
        raise FhirError(404, f"Location/{resource_id} does not exist.")
    return fhir.room_location_resource(room)


# --- Slot: free times, computed by the availability service -----------------------------


def _procedure_type_of(values: list[str]) -> ProcedureType:
    if len(values) != 1:
        raise FhirError(400, "Slot search needs one service-type (a HealthcareService code).")
    slug = _token(values[0], fhir.procedure_type_system())
    procedure_type = ProcedureType.objects.filter(slug=slug, is_active=True).first()
    if procedure_type is None:
        raise FhirError(400, f"No service type {slug!r} is offered.")
    return procedure_type


def slot_search(params: QueryDict, *, now: datetime | None = None) -> SearchPage:
    """Free slots of one service type (`service-type`, required) from `start=ge...` to
    `start=lt...` (default: the next DEFAULT_SLOT_DAYS days; at most MAX_SLOT_DAYS), for
    one dermatologist's `schedule` or all; `status` is `free` or absent."""
    _check_names(params, search_parameters("Slot"))
    status = params.getlist("status")
    if status and status != ["free"]:
        raise FhirError(400, "Slots are searched by status=free: busy time is in Appointment.")
    count, offset = paging(params)
    procedure_type = _procedure_type_of(params.getlist("service-type"))
    now = now or timezone.now()
    lower, upper = date_range(params.getlist("start"))
    lower = max(lower or now, now)
    upper = upper or lower + timedelta(days=DEFAULT_SLOT_DAYS)
    if upper - lower > timedelta(days=MAX_SLOT_DAYS):
        raise FhirError(400, f"Search at most {MAX_SLOT_DAYS} days of slots at once.")
    dermatologist = None
    schedule = _one(params, "schedule")
    if schedule:
        dermatologist = (
            StaffMember.objects.bookable().filter(pk=_reference_id(schedule, "Schedule")).first()
        )
        if dermatologist is None:
            return SearchPage([], 0)
    slots = [
        slot
        for slot in free_slots(
            procedure_type=procedure_type,
            start_day=timezone.localdate(lower),
            end_day=timezone.localdate(upper),
            dermatologist=dermatologist,
            now=now,
        )
        if lower <= slot.starts_at < upper
    ]
    wanted = set(",".join(params.getlist("_id")).split(",")) - {""}
    if wanted:
        slots = [slot for slot in slots if fhir.slot_id(_key(slot, procedure_type)) in wanted]
    page = slots[offset : offset + count]  # only the page's slots become resources
    return SearchPage([fhir.slot_resource(slot, procedure_type) for slot in page], len(slots))


def _key(slot: Slot, procedure_type: ProcedureType) -> fhir.SlotKey:
    return fhir.SlotKey(slot.dermatologist_id, procedure_type.pk, slot.starts_at)


def slot_read(resource_id: str) -> Resource:
    """A slot by its id: 404 unless it is free now."""
    key = fhir.slot_key(resource_id)
    procedure_type = (
        ProcedureType.objects.filter(pk=key.procedure_type_id, is_active=True).first()
        if key
        else None
    )
    dermatologist = (
        StaffMember.objects.bookable().filter(pk=key.dermatologist_id).first() if key else None
    )
    if key is None or procedure_type is None or dermatologist is None:
        raise FhirError(404, f"Slot/{resource_id} does not exist.")
    day = timezone.localdate(key.starts_at)
    for slot in free_slots(
        procedure_type=procedure_type, start_day=day, end_day=day, dermatologist=dermatologist
    ):
        if slot.starts_at == key.starts_at:
            return fhir.slot_resource(slot, procedure_type)
    raise FhirError(404, f"Slot/{resource_id} is not free.")
