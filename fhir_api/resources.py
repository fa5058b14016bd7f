"""Model rows → FHIR R4 resources (JSON dicts). Reads only; the querysets that load the
rows with what these functions touch are in fhir_api/search.py.

Ids: a row's primary key, except Location (`clinic`, `room-<id>`) and Slot, whose id
encodes what booking it needs (`slot_id`)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from clinic.models import Room, StaffMember, WorkingHours
from patients.models import Guardian, Lesion, Patient
from treatments.models import (
    DIAGNOSIS_MILIA,
    Appointment,
    ClinicalPhoto,
    Procedure,
    ProcedureType,
)
from treatments.selectors.availability import Slot
from treatments.selectors.epoch import moment_of, seconds_of

Resource = dict[str, Any]

CPT = "http://www.ama-assn.org/go/cpt"
ICD_10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"


def _system(name: str) -> str:
    """This clinic's own identifier and code systems, under its address."""
    return f"{settings.CLINIC_BASE_URL.rstrip('/')}/fhir/sid/{name}"


def mrn_system() -> str:
    return _system("mrn")


def procedure_type_system() -> str:
    return _system("procedure-type")


def body_site_system() -> str:
    return _system("body-site")


def instant(moment: datetime) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


def version_of(updated_at: datetime) -> str:
    """A row's version: its last change in microseconds (its ETag, for If-Match)."""
    return str(int(updated_at.timestamp() * 1_000_000))


def _meta(updated_at: datetime) -> dict[str, str]:
    return {"versionId": version_of(updated_at), "lastUpdated": instant(updated_at)}


def ref(resource_type: str, resource_id: object, display: str = "") -> dict[str, str]:
    reference = {"reference": f"{resource_type}/{resource_id}"}
    return reference | {"display": display} if display else reference


def _telecom(phone: object, email: str) -> list[dict[str, str]]:
    telecom = []
    if phone:
        telecom.append({"system": "phone", "value": str(phone), "use": "mobile"})
    if email:
        telecom.append({"system": "email", "value": email})
    return telecom


def _without_empty(resource: Resource) -> Resource:
    """FHIR forbids empty strings, lists and objects."""
    return {key: value for key, value in resource.items() if value not in ("", [], {}, None)}


GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}


def patient_resource(patient: Patient) -> Resource:
    address = _without_empty(
        {
            "line": [line for line in (patient.address_line_1, patient.address_line_2) if line],
            "city": patient.city,
            "state": patient.region,
            "postalCode": patient.postal_code,
            "country": patient.country,
        }
    )
    return _without_empty(
        {
            "resourceType": "Patient",
            "id": str(patient.pk),
            "meta": _meta(patient.updated_at),
            "identifier": [
                {
                    "use": "usual",
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "MR",
                            }
                        ]
                    },
                    "system": mrn_system(),
                    "value": patient.mrn,
                }
            ],
            "active": True,
            "name": [
                {"use": "official", "family": patient.last_name, "given": [patient.first_name]}
            ],
            "telecom": _telecom(patient.phone, patient.email),
            "gender": GENDER[patient.sex],
            "birthDate": patient.date_of_birth.isoformat(),
            "address": [address] if address else [],
            "communication": [
                {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": patient.language}]}}
            ],
        }
    )


# HL7 v3 RoleCode for a guardian's relationship; "other" has no code, only text.
RELATIONSHIP = {"mother": "MTH", "father": "FTH", "parent": "PRN", "legal_guardian": "GUARD"}


def related_person_resource(guardian: Guardian) -> Resource:
    code = RELATIONSHIP.get(guardian.relationship)
    relationship: dict[str, Any] = {"text": guardian.get_relationship_display()}
    if code:
        relationship["coding"] = [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": code}
        ]
    return _without_empty(
        {
            "resourceType": "RelatedPerson",
            "id": str(guardian.pk),
            "active": True,
            "patient": ref("Patient", guardian.patient_id),
            "relationship": [relationship],
            "name": [{"family": guardian.last_name, "given": [guardian.first_name]}],
            "telecom": _telecom(guardian.phone, guardian.email),
        }
    )


def _staff_name(staff_member: StaffMember) -> dict[str, Any]:
    user = staff_member.user
    return _without_empty(
        {
            "family": user.last_name or user.get_username(),
            "given": [user.first_name] if user.first_name else [],
            "prefix": [staff_member.title] if staff_member.title else [],
        }
    )


def practitioner_resource(staff_member: StaffMember) -> Resource:
    return {
        "resourceType": "Practitioner",
        "id": str(staff_member.pk),
        "active": staff_member.is_active,
        "name": [_staff_name(staff_member)],
    }


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _available_time(hours: list[WorkingHours]) -> list[dict[str, Any]]:
    return [
        {
            "daysOfWeek": [DAYS[block.weekday]],
            "availableStartTime": block.starts_at.strftime("%H:%M:%S"),
            "availableEndTime": block.ends_at.strftime("%H:%M:%S"),
        }
        for block in hours
    ]


def practitioner_role_resource(staff_member: StaffMember, *, service_ids: list[int]) -> Resource:
    """The dermatologist's role at the clinic: where, which services, which hours
    (`working_hours` prefetched)."""
    return _without_empty(
        {
            "resourceType": "PractitionerRole",
            "id": str(staff_member.pk),
            "active": staff_member.is_active,
            "practitioner": ref("Practitioner", staff_member.pk, str(staff_member)),
            "code": [
                {
                    "coding": [{"system": SNOMED, "code": "18803008", "display": "Dermatologist"}],
                    "text": "Dermatologist",
                }
            ],
            "location": [ref("Location", CLINIC_LOCATION_ID)],
            "healthcareService": [ref("HealthcareService", pk) for pk in service_ids],
            "availableTime": _available_time(list(staff_member.working_hours.all())),
        }
    )


CLINIC_LOCATION_ID = "clinic"


def clinic_location_resource() -> Resource:
    return _without_empty(
        {
            "resourceType": "Location",
            "id": CLINIC_LOCATION_ID,
            "status": "active",
            "name": settings.CLINIC_NAME,
            "mode": "instance",
            "telecom": _telecom(settings.CLINIC_PHONE, ""),
            "address": {"text": settings.CLINIC_ADDRESS} if settings.CLINIC_ADDRESS else {},
            "physicalType": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                        "code": "bu",
                    }
                ]
            },
        }
    )


def room_location_id(room_id: int) -> str:
    return f"room-{room_id}"


def room_location_resource(room: Room) -> Resource:
    return {
        "resourceType": "Location",
        "id": room_location_id(room.pk),
        "status": "active" if room.is_active else "inactive",
        "name": room.name,
        "description": room.get_kind_display(),
        "mode": "instance",
        "physicalType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    "code": "ro",
                }
            ]
        },
        "partOf": ref("Location", CLINIC_LOCATION_ID),
    }


def service_type(procedure_type: ProcedureType) -> dict[str, Any]:
    """The CodeableConcept that names a procedure type in Slot and Appointment."""
    return {
        "coding": [{"system": procedure_type_system(), "code": procedure_type.slug}],
        "text": procedure_type.name,
    }


def healthcare_service_resource(procedure_type: ProcedureType) -> Resource:
    type_ = service_type(procedure_type)
    if procedure_type.code:
        type_["coding"].append({"system": CPT, "code": procedure_type.code})
    return {
        "resourceType": "HealthcareService",
        "id": str(procedure_type.pk),
        "active": procedure_type.is_active,
        "name": procedure_type.name,
        "type": [type_],
        "location": [ref("Location", CLINIC_LOCATION_ID)],
        "comment": f"{procedure_type.duration_minutes} minutes",
        "appointmentRequired": True,
    }


def schedule_resource(staff_member: StaffMember) -> Resource:
    """One schedule per dermatologist: its id is the dermatologist's."""
    return {
        "resourceType": "Schedule",
        "id": str(staff_member.pk),
        "active": staff_member.is_active,
        "actor": [ref("Practitioner", staff_member.pk, str(staff_member))],
        "comment": "Working hours less time off and booked visits; see Slot.",
    }


@dataclass(frozen=True)
class SlotKey:
    """What a slot id encodes: a dermatologist, a procedure type and a start."""

    dermatologist_id: int
    procedure_type_id: int
    starts_at: datetime


def slot_id(key: SlotKey) -> str:
    """`<dermatologist>-<procedure type>-<start, epoch seconds>`: stable, and all a booking
    needs, so a client books by `Appointment.slot`."""
    return f"{key.dermatologist_id}-{key.procedure_type_id}-{seconds_of(key.starts_at)}"


def slot_key(text: str) -> SlotKey | None:
    """The key a slot id encodes, or None when it is not one."""
    parts = text.split("-")
    if len(parts) != 3 or not all(part.isdigit() and len(part) <= 12 for part in parts):
        return None
    return SlotKey(int(parts[0]), int(parts[1]), moment_of(int(parts[2])))


def slot_resource(slot: Slot, procedure_type: ProcedureType) -> Resource:
    key = SlotKey(slot.dermatologist_id, procedure_type.pk, slot.starts_at)
    return {
        "resourceType": "Slot",
        "id": slot_id(key),
        "serviceType": [service_type(procedure_type)],
        "schedule": ref("Schedule", slot.dermatologist_id),
        "status": "free",
        "start": instant(slot.starts_at),
        "end": instant(slot.ends_at),
    }


APPOINTMENT_STATUS = {
    Appointment.Status.BOOKED: "booked",
    Appointment.Status.CONFIRMED: "booked",
    Appointment.Status.CHECKED_IN: "checked-in",
    Appointment.Status.COMPLETED: "fulfilled",
    Appointment.Status.CANCELLED: "cancelled",
    Appointment.Status.NO_SHOW: "noshow",
}


def appointment_resource(appointment: Appointment) -> Resource:
    """`patient`, `dermatologist`, `room` and `procedure_type` loaded with it."""
    participants = [
        {"actor": ref("Patient", appointment.patient_id), "status": "accepted"},
        {
            "actor": ref(
                "Practitioner", appointment.dermatologist_id, str(appointment.dermatologist)
            ),
            "status": "accepted",
        },
    ]
    if appointment.room_id is not None:
        participants.append(
            {"actor": ref("Location", room_location_id(appointment.room_id)), "status": "accepted"}
        )
    key = SlotKey(
        appointment.dermatologist_id, appointment.procedure_type_id, appointment.starts_at
    )
    return _without_empty(
        {
            "resourceType": "Appointment",
            "id": str(appointment.pk),
            "meta": _meta(appointment.updated_at),
            "status": APPOINTMENT_STATUS[Appointment.Status(appointment.status)],
            "cancelationReason": (
                {"text": appointment.cancellation_reason}
                if appointment.status == Appointment.Status.CANCELLED
                else {}
            ),
            "serviceType": [service_type(appointment.procedure_type)],
            "description": appointment.reason,
            "start": instant(appointment.starts_at),
            "end": instant(appointment.ends_at),
            "minutesDuration": int(
                (appointment.ends_at - appointment.starts_at).total_seconds() // 60
            ),
            "slot": [ref("Slot", slot_id(key))],
            "created": instant(appointment.created_at),
            "participant": participants,
        }
    )


def _body_site(site: str, label: str) -> dict[str, Any]:
    return {
        "coding": [{"system": body_site_system(), "code": site, "display": label}],
        "text": label,
    }


CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def condition_resource(lesion: Lesion) -> Resource:
    clinical = "resolved" if lesion.status == Lesion.Status.RESOLVED else "active"
    return _without_empty(
        {
            "resourceType": "Condition",
            "id": str(lesion.pk),
            "meta": _meta(lesion.updated_at),
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": clinical}]},
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "confirmed",
                    }
                ]
            },
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                            "code": "problem-list-item",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": ICD_10_CM, "code": DIAGNOSIS_MILIA}],
                "text": f"Milia: {lesion.get_milia_type_display()} ({lesion.count})",
            },
            "bodySite": [_body_site(lesion.site, lesion.get_site_display())],
            "subject": ref("Patient", lesion.patient_id),
            "onsetDateTime": lesion.first_noted.isoformat(),
            "abatementDateTime": lesion.resolved_on.isoformat() if lesion.resolved_on else "",
            "recordedDate": instant(lesion.created_at),
            "note": [{"text": lesion.note}] if lesion.note else [],
        }
    )


def procedure_resource(procedure: Procedure, *, lesions: list[Lesion]) -> Resource:
    """A signed procedure record; `lesions` are those it treated, `amendments` prefetched."""
    coding = [{"system": CPT, "code": procedure.procedure_code}] if procedure.procedure_code else []
    notes = [{"text": procedure.note}] if procedure.note else []
    notes += [
        {"time": instant(amendment.created_at), "text": f"Amendment: {amendment.text}"}
        for amendment in procedure.amendments.all()
    ]
    return _without_empty(
        {
            "resourceType": "Procedure",
            "id": str(procedure.pk),
            "meta": _meta(procedure.updated_at),
            "status": "completed",
            "code": {"coding": coding, "text": procedure.procedure_type.name},
            "subject": ref("Patient", procedure.patient_id),
            "performedDateTime": instant(procedure.performed_at),
            "performer": [
                {
                    "actor": ref(
                        "Practitioner", procedure.dermatologist_id, str(procedure.dermatologist)
                    )
                }
            ],
            "reasonCode": [{"coding": [{"system": ICD_10_CM, "code": procedure.diagnosis_code}]}],
            "reasonReference": [ref("Condition", lesion.pk) for lesion in lesions],
            "bodySite": [_body_site(lesion.site, lesion.get_site_display()) for lesion in lesions],
            "note": notes,
        }
    )


def media_resource(photo: ClinicalPhoto, *, site: tuple[str, str] | None) -> Resource:
    """A clinical photo's description; `site` is its lesion's (code, label), if any."""
    return _without_empty(
        {
            "resourceType": "Media",
            "id": str(photo.pk),
            "status": "completed",
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image"}
                ]
            },
            "subject": ref("Patient", photo.patient_id),
            "createdDateTime": photo.taken_on.isoformat(),
            "issued": instant(photo.uploaded_at),
            "bodySite": _body_site(*site) if site else {},
            "height": photo.height,
            "width": photo.width,
            "content": _without_empty(
                {
                    "contentType": photo.content_type,
                    # Relative to the API's base, as references are: the bytes, for a
                    # token that may read Media (fhir_api.views.media_content).
                    "url": f"Media/{photo.pk}/content",
                    "title": photo.caption,
                    "creation": photo.taken_on.isoformat(),
                }
            ),
        }
    )
