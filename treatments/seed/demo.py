"""Demo data for `make run`: a small clinic with a week of appointments around today.

Deterministic and idempotent: every row has a natural key and is created only when it is
missing, so running it twice gives the same counts. Lives in `treatments` because it
touches every app, and imports flow patients ← clinic ← treatments.
"""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from clinic.models import Room, StaffMember, WorkingHours
from clinic.schedule_version import schedule_changed_everywhere
from clinic.services import staff_member_save
from patients.models import Channel, Guardian, Lesion, Patient, PatientAlert
from patients.services import patient_save

from ..models import (
    Appointment,
    FeeScheduleEntry,
    FollowUp,
    Procedure,
    ProcedureType,
)
from ..services import records
from ..services.billing import appointment_estimate_store

DEMO_PASSWORD = "clinic-demo"  # noqa: S105 - documented demo logins, never in production
DAYS_AROUND_TODAY = 3

DERMATOLOGISTS = [
    ("dermatologist", "Ana", "Ortiz"),
    ("dr.okafor", "Chidi", "Okafor"),
    ("dr.lindqvist", "Maja", "Lindqvist"),
]
FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mateo",
    "Sofia",
    "Lucas",
    "Mia",
    "Ethan",
    "Amara",
    "Yusuf",
    "Chloe",
    "Hiro",
    "Priya",
    "Diego",
    "Lena",
    "Omar",
    "Grace",
    "Wei",
    "Isla",
    "Jonas",
    "Zara",
    "Felix",
    "Nora",
]
LAST_NAMES = [
    "Smith",
    "Garcia",
    "Nguyen",
    "Johnson",
    "Kowalski",
    "Haddad",
    "Brown",
    "Rossi",
    "Kim",
    "Martin",
    "Silva",
    "Cohen",
    "Okoye",
    "Dubois",
    "Patel",
    "Larsen",
    "Moreau",
    "Tanaka",
]
INFANT_SITES = [
    Lesion.Site.NOSE_TIP,
    Lesion.Site.CHEEK_LEFT,
    Lesion.Site.CHEEK_RIGHT,
    Lesion.Site.CHIN,
]
ADULT_SITES = [
    Lesion.Site.LEFT_UPPER_EYELID,
    Lesion.Site.RIGHT_LOWER_EYELID,
    Lesion.Site.PERIORBITAL_LEFT,
    Lesion.Site.PERIORBITAL_RIGHT,
    Lesion.Site.NOSE_BRIDGE,
    Lesion.Site.CHEEK_LEFT,
    Lesion.Site.FOREHEAD,
    Lesion.Site.PERIORAL,
    Lesion.Site.CHIN,
    Lesion.Site.UPPER_BACK,
]
# Weekdays, and a weekend morning clinic (so the demo has a "today" whatever the day).
WORKING_HOURS = {
    False: [(time(8, 30), time(12, 30)), (time(13, 30), time(17, 0))],
    True: [(time(9, 0), time(13, 0))],
}
LUNCH = (time(12, 30), time(13, 30))
PATIENT_COUNT = 50
INFANT_COUNT = 8
CHILD_COUNT = 6


def _user(username: str, first_name: str, last_name: str, *, can_log_in: bool):
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username.replace('.', '-')}@clinic.example.com",
        },
    )
    if created:
        if can_log_in:
            user.set_password(DEMO_PASSWORD)
        else:
            user.set_unusable_password()
        user.save()
    return user


def _staff(username, first_name, last_name, role, *, title="", can_log_in=True) -> StaffMember:
    user = _user(username, first_name, last_name, can_log_in=can_log_in)
    staff_member = StaffMember.objects.filter(user=user).first()
    if staff_member is None:
        staff_member = staff_member_save(
            staff_member=StaffMember(user=user, role=role, title=title)
        )
    return staff_member


def seed_staff() -> list[StaffMember]:
    """The demo logins, three dermatologists with their hours, and the rooms."""
    _staff("reception", "Rita", "Reyes", StaffMember.Role.RECEPTIONIST)
    _staff("manager", "Max", "Meyer", StaffMember.Role.MANAGER)
    dermatologists = [
        _staff(
            username,
            first,
            last,
            StaffMember.Role.DERMATOLOGIST,
            title="Dr.",
            can_log_in=username == "dermatologist",
        )
        for username, first, last in DERMATOLOGISTS
    ]
    for dermatologist in dermatologists:
        for weekday in range(7):
            for starts_at, ends_at in WORKING_HOURS[weekday >= 5]:
                WorkingHours.objects.get_or_create(
                    staff_member=dermatologist,
                    weekday=weekday,
                    starts_at=starts_at,
                    defaults={"ends_at": ends_at},
                )
    for name, kind in [
        ("Treatment room 1", Room.Kind.TREATMENT),
        ("Treatment room 2", Room.Kind.TREATMENT),
        ("Consultation room", Room.Kind.CONSULTATION),
    ]:
        Room.objects.get_or_create(name=name, defaults={"kind": kind})
    return dermatologists


def seed_patients(*, today: date) -> list[Patient]:
    """Fifty patients: infants and children with a guardian, adults; their lesions."""
    rng = random.Random(42)
    patients = []
    for number in range(PATIENT_COUNT):
        first_name = FIRST_NAMES[number % len(FIRST_NAMES)]
        last_name = LAST_NAMES[(number * 7) % len(LAST_NAMES)]
        if number < INFANT_COUNT:
            born = today - timedelta(days=rng.randint(10, 150))
        elif number < INFANT_COUNT + CHILD_COUNT:
            born = today - timedelta(days=rng.randint(3 * 365, 15 * 365))
        else:
            born = today - timedelta(days=rng.randint(19 * 365, 80 * 365))
        email = f"{first_name}.{last_name}.{number}@example.com".lower()
        phone = f"+1212555{number:04d}"
        channel = Channel.SMS if number % 3 == 0 else Channel.EMAIL
        consent = number % 10 != 9
        minor = number < INFANT_COUNT + CHILD_COUNT
        patient = Patient.objects.filter(email=email).first()
        if patient is None:
            patient = patient_save(
                patient=Patient(
                    first_name=first_name,
                    last_name=last_name,
                    date_of_birth=born,
                    sex=rng.choice([Patient.Sex.FEMALE, Patient.Sex.MALE]),
                    email=email,
                    phone="" if minor else phone,
                    preferred_channel=channel,
                    language=rng.choice(["en", "en", "en", "es"]),
                    reminder_consent=consent,
                )
            )
            if minor:
                Guardian.objects.create(
                    patient=patient,
                    first_name=rng.choice(FIRST_NAMES),
                    last_name=last_name,
                    relationship=rng.choice(
                        [Guardian.Relationship.MOTHER, Guardian.Relationship.FATHER]
                    ),
                    email=f"guardian.{number}@example.com",
                    phone=phone,
                )
            _seed_lesions(patient, infant=number < INFANT_COUNT, rng=rng, today=today)
        patients.append(patient)
    return patients


def _seed_lesions(patient: Patient, *, infant: bool, rng: random.Random, today: date) -> None:
    for _ in range(1 if infant else rng.randint(1, 3)):
        first_noted = max(patient.date_of_birth, today - timedelta(days=rng.randint(5, 400)))
        Lesion.objects.create(
            patient=patient,
            site=rng.choice(INFANT_SITES if infant else ADULT_SITES),
            milia_type=Lesion.MiliaType.NEONATAL
            if infant
            else rng.choice(
                [Lesion.MiliaType.PRIMARY, Lesion.MiliaType.PRIMARY, Lesion.MiliaType.SECONDARY]
            ),
            size_mm=rng.choice(["1.0", "1.5", "2.0", "2.5"]),
            count=rng.randint(1, 18),
            colour=rng.choice([Lesion.Colour.WHITE, Lesion.Colour.YELLOW]),
            first_noted=first_noted,
        )


def seed_appointments(*, dermatologists, patients, today: date, created_by) -> None:
    """A deterministic plan per day: the same day always gives the same appointments."""
    zone = timezone.get_current_timezone()
    now = timezone.now()
    procedure_types = list(ProcedureType.objects.filter(is_active=True))
    rooms = list(Room.objects.filter(kind=Room.Kind.TREATMENT, is_active=True))
    for offset in range(-DAYS_AROUND_TODAY, DAYS_AROUND_TODAY + 1):
        day = today + timedelta(days=offset)
        last_start = time(12, 30) if day.weekday() >= 5 else time(16, 0)
        rng = random.Random(day.toordinal())
        room_busy: dict[int, list[tuple[datetime, datetime]]] = {room.pk: [] for room in rooms}
        # One visit per patient per day, so nobody is in two rooms at once.
        unbooked = patients[:]
        rng.shuffle(unbooked)
        for dermatologist in dermatologists:
            start = datetime.combine(day, time(9, 0), tzinfo=zone)
            while start.time() < last_start and unbooked:
                if LUNCH[0] <= start.time() < LUNCH[1]:
                    start = datetime.combine(day, LUNCH[1], tzinfo=zone)
                procedure_type = rng.choice(procedure_types)
                end = start + timedelta(minutes=procedure_type.duration_minutes)
                if start.time() < LUNCH[0] < end.time() or rng.random() < 0.35:
                    start = _next_start(start, end, rng)
                    continue
                room = _free_room(procedure_type, rooms, room_busy, start, end)
                if procedure_type.needs_treatment_room and room is None:
                    start = _next_start(start, end, rng)
                    continue
                _appointment(
                    dermatologist,
                    procedure_type,
                    room,
                    start,
                    end,
                    patient=unbooked.pop(),
                    status=_status(start, end, now, rng),
                    created_by=created_by,
                )
                start = _next_start(start, end, rng)


def _next_start(start, end, rng):
    return end if rng.random() < 0.6 else end + timedelta(minutes=15)


def _free_room(procedure_type, rooms, room_busy, start, end):
    if not procedure_type.needs_treatment_room:
        return None
    for room in rooms:
        if all(
            end <= busy_start or busy_end <= start for busy_start, busy_end in room_busy[room.pk]
        ):
            room_busy[room.pk].append((start, end))
            return room
    return None


def _status(start, end, now, rng) -> str:
    Status = Appointment.Status
    if end <= now:
        return rng.choices([Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED], [8, 1, 1])[0]
    if start <= now:
        return Status.CHECKED_IN
    return rng.choice([Status.BOOKED, Status.CONFIRMED])


def _appointment(dermatologist, procedure_type, room, start, end, *, patient, status, created_by):
    if Appointment.objects.filter(dermatologist=dermatologist, starts_at=start).exists():
        return
    Appointment.objects.create(
        patient=patient,
        dermatologist=dermatologist,
        room=room,
        procedure_type=procedure_type,
        starts_at=start,
        ends_at=end,
        status=status,
        reason="Milia",
        cancellation_reason="Patient called to cancel"
        if status == Appointment.Status.CANCELLED
        else "",
        created_by=created_by,
    )


# What a demo record of each technique says (plausible values, not advice).
DEMO_TECHNIQUE: dict[str, dict[str, Any]] = {
    "extraction": {"instrument": "comedone_extractor"},
    "de-roofing": {"instrument": "needle", "needle_gauge": 30},
    "cryotherapy": {
        "cryo_method": "cotton_tip",
        "freeze_seconds": 5,
        "freeze_thaw_cycles": 1,
        "halo_mm": Decimal("1.0"),
    },
    "curettage": {
        "anesthetic": "lidocaine_1",
        "anesthetic_volume_ml": Decimal("0.5"),
        "hemostasis": "electrocautery",
    },
    "electrodesiccation": {"anesthetic": "topical"},
}
DEMO_RECORDS = 8


def seed_clinical_records(*, today: date) -> None:
    """Signed records of Dr. Ortiz's past visits, an allergy, and follow-ups falling due."""
    doctor = get_user_model().objects.get(username="dermatologist")
    # Seeding again records nothing more: the demo has DEMO_RECORDS records in all.
    missing = max(DEMO_RECORDS - Procedure.objects.filter(created_by=doctor).count(), 0)
    done = (
        Appointment.objects.filter(
            dermatologist__user=doctor,
            status=Appointment.Status.COMPLETED,
            procedure__isnull=True,
            patient__lesions__status__in=Lesion.CURRENT,
        )
        # The allergic patient is left for the dermatologist to record live (the alert).
        .exclude(patient__alerts__kind=PatientAlert.Kind.ALLERGY)
        .select_related("procedure_type", "patient")
        .distinct()
        .order_by("starts_at")[:missing]
    )
    for visit in done:
        lesions = list(visit.patient.lesions.filter(status__in=Lesion.CURRENT)[:2])
        technique = dict(DEMO_TECHNIQUE.get(visit.procedure_type.slug, {}))
        if "instrument" in technique:
            technique["lesions_cleared"] = sum(lesion.count for lesion in lesions)
        # The visit is recorded as it happened: checked in, then recorded and signed.
        Appointment.objects.filter(pk=visit.pk).update(status=Appointment.Status.CHECKED_IN)
        visit.refresh_from_db()
        consent_by = "guardian" if visit.patient.is_minor else "patient"
        procedure = records.procedure_record(
            appointment=visit,
            procedure_type=visit.procedure_type,
            lesions=lesions,
            technique=technique,
            consent={"consent_obtained": True, "consent_given_by": consent_by},
            complications={},
            note="Tolerated well.",
            performed_at=visit.starts_at,
            by=doctor,
        )
        records.procedure_sign(procedure=procedure, by=doctor)
    allergic = Patient.objects.order_by("pk")[INFANT_COUNT + CHILD_COUNT]
    PatientAlert.objects.get_or_create(
        patient=allergic,
        kind=PatientAlert.Kind.ALLERGY,
        defaults={"description": "Lidocaine (hives)", "created_by": doctor},
    )
    for offset, patient in zip((-5, -1, 2, 6), Patient.objects.order_by("pk")[20:24], strict=False):
        FollowUp.objects.get_or_create(
            patient=patient,
            kind=FollowUp.Kind.RECHECK,
            procedure=None,
            defaults={"due_on": today + timedelta(days=offset), "created_by": doctor},
        )


# Visit types patients may book on the public page (/book/): a first consultation and a
# recurrence check for anyone, an extraction for patients the clinic already knows.
ONLINE_VISIT_TYPES = [
    {"slug": "consultation", "name": "Consultation", "duration_minutes": 20, "sort_order": 0},
    {
        "slug": "recurrence-check",
        "name": "Recurrence check",
        "duration_minutes": 15,
        "sort_order": 1,
    },
]


def seed_online_booking() -> None:
    for entry in ONLINE_VISIT_TYPES:
        ProcedureType.objects.update_or_create(
            slug=entry["slug"],
            defaults={
                **entry,
                "is_procedure": False,
                "needs_treatment_room": False,
                "bookable_online": True,
                "online_returning_only": False,
            },
        )
    ProcedureType.objects.filter(slug="extraction").update(
        bookable_online=True, online_returning_only=True
    )


# The demo clinic's prices (USD, before tax; self-pay, insured), in force since 2020: per
# procedure type for the estimate at booking, per CPT code for the charge lines.
PRICES_SINCE = date(2020, 1, 1)
VISIT_PRICES = {
    "extraction": ("150.00", "110.00"),
    "de-roofing": ("150.00", "110.00"),
    "cryotherapy": ("180.00", "140.00"),
    "curettage": ("250.00", "190.00"),
    "electrodesiccation": ("200.00", "150.00"),
    "watchful-waiting": ("90.00", "70.00"),
    "topical-therapy": ("90.00", "70.00"),
}
CODE_PRICES = {
    "10040": ("Acne surgery (milia extraction, de-roofing)", "150.00", "110.00"),
    "17110": ("Destruction of benign lesions, up to 14", "180.00", "140.00"),
    "17111": ("Destruction of benign lesions, 15 or more", "250.00", "180.00"),
    "99202": ("Office visit, new patient, straightforward", "110.00", "85.00"),
    "99203": ("Office visit, new patient, low complexity", "160.00", "120.00"),
    "99212": ("Office visit, established patient, straightforward", "90.00", "70.00"),
    "99213": ("Office visit, established patient, low complexity", "120.00", "95.00"),
}


def fee_schedule_seed() -> None:
    """The demo prices, once: an entry is only added when its key has none from that day."""
    for procedure_type in ProcedureType.objects.filter(slug__in=VISIT_PRICES):
        self_pay, insured = VISIT_PRICES[procedure_type.slug]
        FeeScheduleEntry.objects.get_or_create(
            procedure_type=procedure_type,
            effective_from=PRICES_SINCE,
            defaults={
                "description": procedure_type.name,
                "self_pay_price": Decimal(self_pay),
                "insured_price": Decimal(insured),
            },
        )
    for code, (description, self_pay, insured) in CODE_PRICES.items():
        FeeScheduleEntry.objects.get_or_create(
            cpt_code=code,
            effective_from=PRICES_SINCE,
            defaults={
                "description": description,
                "self_pay_price": Decimal(self_pay),
                "insured_price": Decimal(insured),
            },
        )


def seed_estimates() -> None:
    """The estimate each demo visit would have been given at booking."""
    for appointment in Appointment.objects.filter(estimate__isnull=True).select_related(
        "procedure_type"
    ):
        appointment_estimate_store(appointment=appointment)


@transaction.atomic
def seed_demo(*, today: date | None = None) -> None:
    today = today or timezone.localdate()
    seed_online_booking()  # first: the demo's visits draw on every active visit type
    dermatologists = seed_staff()
    patients = seed_patients(today=today)
    reception = get_user_model().objects.get(username="reception")
    fee_schedule_seed()
    seed_appointments(
        dermatologists=dermatologists, patients=patients, today=today, created_by=reception
    )
    seed_estimates()
    seed_clinical_records(today=today)
    # The demo writes its rows directly: every cached schedule page is out of date.
    schedule_changed_everywhere()
