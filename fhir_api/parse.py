"""FHIR JSON bodies → the arguments of the clinic's services. Reads only: what a body
names is looked up, never written; a body that does not say what a write needs is a
FhirError (400) naming what is wrong."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from clinic.models import StaffMember
from patients.models import Patient
from treatments.models import Appointment, ProcedureType

from . import resources as fhir
from .outcomes import FhirError

Body = dict[str, Any]
MAX_BODY_BYTES = 64 * 1024


def body_of(request: HttpRequest, resource_type: str) -> Body:
    """The request's JSON resource of `resource_type`."""
    if len(request.body) > MAX_BODY_BYTES:
        raise FhirError(413, "The body is too large.", code="too-costly")
    try:
        body = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FhirError(400, "The body is not JSON.", code="structure") from None
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        raise FhirError(400, f"The body must be a {resource_type} resource.", code="structure")
    return body


def _list(body: Body, name: str) -> list[Any]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise FhirError(400, f"{name} must be a list.", code="structure")
    return value


def _reference(value: Any, resource_type: str) -> str | None:
    """The id in `{"reference": "Type/id"}`, if it names a `resource_type`."""
    reference = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str):
        return None
    kind, _, resource_id = reference.rpartition("/")
    return resource_id if kind.rsplit("/", 1)[-1] == resource_type and resource_id else None


def _actor(body: Body, resource_type: str) -> str | None:
    for participant in _list(body, "participant"):
        resource_id = _reference(
            participant.get("actor") if isinstance(participant, dict) else None, resource_type
        )
        if resource_id:
            return resource_id
    return None


def instant_of(value: Any, name: str) -> datetime:
    moment = None
    if isinstance(value, str):
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
    if moment is None or timezone.is_naive(moment):
        raise FhirError(400, f"{name} must be a FHIR instant with a time zone.")
    return moment


def _row(model: type[Any], resource_id: str | None, what: str, **filters: Any) -> Any:
    row = (
        model.objects.filter(pk=int(resource_id), **filters).first()
        if resource_id and resource_id.isdigit() and len(resource_id) < 18
        else None
    )
    if row is None:
        raise FhirError(400, f"The appointment must name an existing {what}.")
    return row


@dataclass(frozen=True)
class BookingRequest:
    patient: Patient
    dermatologist: StaffMember
    procedure_type: ProcedureType
    starts_at: datetime
    reason: str


def booking_request(body: Body) -> BookingRequest:
    """An Appointment to create: a patient participant, and either a `slot` reference (a
    slot id says the dermatologist, service and start) or `start`, a Practitioner
    participant and a `serviceType` code."""
    status = body.get("status", "booked")
    if status not in ("booked", "proposed", "pending"):
        raise FhirError(400, "A new appointment's status is booked.")
    patient = _row(Patient, _actor(body, "Patient"), "Patient participant")
    slots = _list(body, "slot")
    if slots:
        key = fhir.slot_key(_reference(slots[0], "Slot") or "") if len(slots) == 1 else None
        if key is None:
            raise FhirError(400, "slot must be one Slot reference from a Slot search.")
        dermatologist_id: str | None = str(key.dermatologist_id)
        procedure_type_id: str | None = str(key.procedure_type_id)
        starts_at = key.starts_at
    else:
        dermatologist_id = _actor(body, "Practitioner")
        starts_at = instant_of(body.get("start"), "start")
        procedure_type_id = _service_type_id(body)
    reason = body.get("description", "")
    if not isinstance(reason, str):
        raise FhirError(400, "description must be text.")
    return BookingRequest(
        patient=patient,
        dermatologist=_row(StaffMember, dermatologist_id, "Practitioner participant"),
        procedure_type=_row(ProcedureType, procedure_type_id, "serviceType"),
        starts_at=starts_at,
        reason=reason[:200],
    )


def _service_type_id(body: Body) -> str | None:
    for concept in _list(body, "serviceType"):
        codings = concept.get("coding", []) if isinstance(concept, dict) else []
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, dict) and coding.get("system") == fhir.procedure_type_system():
                slug = coding.get("code")
                found = ProcedureType.objects.filter(slug=slug).values_list("pk", flat=True).first()
                return str(found) if found else None
    return None


@dataclass(frozen=True)
class AppointmentChange:
    """What an update asks: cancel (with a reason) or move to a new start."""

    cancel_reason: str | None
    starts_at: datetime | None


def appointment_change(body: Body, appointment: Appointment) -> AppointmentChange:
    status = body.get("status")
    if status == "cancelled":
        reason = body.get("cancelationReason", {})
        text = reason.get("text") if isinstance(reason, dict) else None
        return AppointmentChange(
            cancel_reason=text
            if isinstance(text, str) and text.strip()
            else "Cancelled by an API client",
            starts_at=None,
        )
    if status != fhir.APPOINTMENT_STATUS[Appointment.Status(appointment.status)]:
        raise FhirError(
            400, "An update may cancel an appointment (status=cancelled) or move it (start)."
        )
    starts_at = instant_of(body.get("start"), "start")
    return AppointmentChange(
        cancel_reason=None, starts_at=starts_at if starts_at != appointment.starts_at else None
    )


GENDER_TO_SEX = {"female": "female", "male": "male", "other": "intersex", "unknown": "unknown"}


def patient_fields(body: Body) -> dict[str, Any]:
    """The Patient resource's fields, as patients.services take them."""
    names = _list(body, "name")
    name = names[0] if names and isinstance(names[0], dict) else {}
    given = name.get("given") or [""]
    birth = parse_date(body["birthDate"]) if isinstance(body.get("birthDate"), str) else None
    if birth is None:
        raise FhirError(400, "birthDate (YYYY-MM-DD) is required.")
    gender = body.get("gender", "unknown")
    if gender not in GENDER_TO_SEX:
        raise FhirError(400, "gender is female, male, other or unknown.")
    fields: dict[str, Any] = {
        "first_name": str(given[0]) if isinstance(given, list) and given else "",
        "last_name": str(name.get("family", "")),
        "date_of_birth": birth,
        "sex": GENDER_TO_SEX[gender],
        "phone": "",
        "email": "",
    }
    for telecom in _list(body, "telecom"):
        if isinstance(telecom, dict) and telecom.get("system") in ("phone", "email"):
            fields[str(telecom["system"])] = str(telecom.get("value", ""))
    addresses = _list(body, "address")
    if addresses and isinstance(addresses[0], dict):
        address = addresses[0]
        lines = address.get("line") or []
        fields |= {
            "address_line_1": str(lines[0]) if lines else "",
            "address_line_2": str(lines[1]) if len(lines) > 1 else "",
            "city": str(address.get("city", "")),
            "region": str(address.get("state", "")),
            "postal_code": str(address.get("postalCode", "")),
            "country": str(address.get("country", "")),
        }
    return fields
