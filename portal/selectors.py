"""Reads of patients online: the visit types and times the public booking page offers,
and what the portal shows a verified contact."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from clinic.links import Action, link_token
from clinic.models import StaffMember
from patients.models import Patient
from treatments.models import Appointment, Procedure, ProcedureType
from treatments.selectors.availability import Slot, first_available

# The public page offers the first free times over two weeks from the day asked for.
SLOT_DAYS = 14
SLOT_COUNT = 12


def bookable_online_types() -> QuerySet[ProcedureType]:
    return ProcedureType.objects.filter(bookable_online=True, is_active=True)


def bookable_dermatologists() -> QuerySet[StaffMember]:
    return StaffMember.objects.filter(
        role=StaffMember.Role.DERMATOLOGIST, is_active=True
    ).select_related("user")


def online_free_slots(
    *, procedure_type: ProcedureType, dermatologist: StaffMember | None, day: date
) -> list[Slot]:
    """The first free times from `day`, from the availability search the desk uses."""
    return first_available(
        procedure_type=procedure_type,
        dermatologist=dermatologist,
        start_day=max(day, timezone.localdate()),
        within_days=SLOT_DAYS,
        limit=SLOT_COUNT,
    )


@dataclass(frozen=True)
class PortalVisit:
    appointment: Appointment
    link_token: str  # the visit's own page (/l/<token>/): confirm, cancel, calendar


@dataclass(frozen=True)
class PortalPatient:
    patient: Patient
    visits: list[PortalVisit]
    handouts: list[Procedure]


def _of_contact(contact: str) -> Q:
    """Patients whose own email or phone is `contact`, or whose guardian's is."""
    return (
        Q(email__iexact=contact)
        | Q(phone=contact)
        | Q(guardians__email__iexact=contact)
        | Q(guardians__phone=contact)
    )


def portal_contact_known(*, contact: str) -> bool:
    return Patient.objects.filter(_of_contact(contact)).exists()


def portal_patients(*, contact: str, now: datetime | None = None) -> list[PortalPatient]:
    """The patients whose own or whose guardian's email or phone is `contact`, each with
    upcoming visits and the aftercare of signed procedures. Three queries, however many
    patients and visits: the patients, their upcoming visits, their signed procedures."""
    now = now or timezone.now()
    upcoming = (
        Appointment.objects.expected()
        .filter(starts_at__gte=now)
        .select_related("procedure_type", "dermatologist__user")
        .order_by("starts_at")
    )
    signed = (
        Procedure.objects.filter(signed_at__isnull=False)
        .select_related("procedure_type")
        .order_by("-performed_at")
    )
    patients = (
        Patient.objects.filter(_of_contact(contact))
        .distinct()
        .order_by("date_of_birth", "pk")
        .prefetch_related(
            Prefetch("appointments", queryset=upcoming, to_attr="upcoming"),
            Prefetch("procedures", queryset=signed, to_attr="signed"),
        )
    )
    return [
        PortalPatient(
            patient=patient,
            visits=[
                PortalVisit(visit, link_token(action=Action.VISIT, subject_id=visit.pk))
                for visit in patient.upcoming
            ],
            handouts=patient.signed,
        )
        for patient in patients
    ]


def portal_patient(*, contact: str, patient_id: int) -> Patient | None:
    """The patient, if `contact` may see them in the portal; None otherwise."""
    return Patient.objects.filter(_of_contact(contact), pk=patient_id).distinct().first()
