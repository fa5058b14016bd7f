"""A busy clinic after ten years, for the benchmark: `python manage.py seed_scale`.

Deterministic (one seeded random generator) and fast: rows are built as tuples with
their ids chosen here, and written in batches, with PostgreSQL's COPY when the database
is PostgreSQL and with bulk_create elsewhere (SQLite, at the test's tiny sizes).

Appointments cannot overlap by construction: every dermatologist has a fixed grid of
slots in their working hours, each slot holds at most one appointment, and a procedure
that needs a treatment room takes the room of the dermatologist's column (one room per
dermatologist). The database's overlap rules (an exclusion constraint or triggers) stay
on and check it. History tables (django-simple-history) are not filled for these rows.
"""

import json
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max, OuterRef, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinic.models import Reminder, Room, StaffMember, WorkingHours
from patients.models import Lesion, Patient, mrn_for

from ..models import (
    AftercareText,
    Appointment,
    FollowUp,
    Procedure,
    ProcedureLesion,
    ProcedureType,
)
from .demo import FIRST_NAMES, LAST_NAMES, _staff, seed_staff

SLOT_MINUTES = 15
# The patient whose chart the benchmark opens: a visit every week or two for ten years.
CHART_PATIENT_NAME = ("Chartwell", "Longhistory")
CHART_PATIENT_SHARE = 2_000  # one appointment in this many is the chart patient's
# Of the lesion and procedure records, this share are lesions; the rest procedures.
LESION_SHARE = 0.6
CANCELLED_SHARE = 0.10
NO_SHOW_SHARE = 0.03
FOLLOW_UP_SHARE = 0.10
SMS_SHARE = 0.2
BATCH_ROWS = 20_000
DAYS_PER_CHUNK = 30
SYLLABLES = ["an", "bel", "cor", "da", "el", "fin", "gar", "hol", "is", "jun", "kel", "lor"]
SYLLABLES += ["mar", "nor", "ost", "pen", "quin", "ros", "sal", "tor", "ul", "ven", "wes", "zan"]
# Procedure types that fit one slot; the catalogue's longer ones are booked by hand.
SLOT_PROCEDURES = ["extraction", "de-roofing", "cryotherapy", "electrodesiccation"]
SLOT_VISITS = ["watchful-waiting", "topical-therapy"]


@dataclass(frozen=True)
class ScaleSizes:
    dermatologists: int = 12
    patients: int = 150_000
    appointments: int = 1_000_000
    lesions: int = 2_000_000  # lesion and procedure records together
    reminders: int = 3_000_000
    due_now: int = 10_000
    days_back: int = 3653  # ten years of history
    days_ahead: int = 365  # and a year booked ahead
    seed: int = 20_260_101


class AlreadySeeded(Exception):
    """The database holds appointments already: seeding again would overlap them."""


class _Progress:
    """tqdm on stderr when asked for, else silent."""

    def __init__(self, total: int, enabled: bool):
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="rows", unit_scale=True, file=sys.stderr)

    def update(self, rows: int, stage: str) -> None:
        if self._bar is not None:
            self._bar.set_description(stage)
            self._bar.update(rows)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# Rows written alongside the sized ones (a procedure's lesions, its follow-up), which the
# progress bar's total does not include.
UNSIZED = {ProcedureLesion, FollowUp}


class _Writer:
    """Writes tuples into one model's table: COPY on PostgreSQL, bulk_create elsewhere."""

    def __init__(self, progress: _Progress):
        self.progress = progress
        self.written: dict[str, int] = {}

    def write(self, model, attnames: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        label = model._meta.label
        self.written[label] = self.written.get(label, 0) + len(rows)
        if connection.vendor == "postgresql":
            column_of = {field.attname: field.column for field in model._meta.concrete_fields}
            columns = ", ".join(connection.ops.quote_name(column_of[name]) for name in attnames)
            table = connection.ops.quote_name(model._meta.db_table)
            sql = f"COPY {table} ({columns}) FROM STDIN"
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            model.objects.bulk_create(
                [model(**dict(zip(attnames, row, strict=True))) for row in rows], batch_size=500
            )
        if model not in UNSIZED:  # the bar counts the rows the sizes ask for
            self.progress.update(len(rows), label)


def _next_id(model) -> int:
    return (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _slot_times(hours: list[WorkingHours]) -> dict[int, list[time]]:
    """Each weekday's slot starts (local wall clock) inside a dermatologist's blocks."""
    slots: dict[int, list[time]] = {weekday: [] for weekday in range(7)}
    for block in hours:
        start = datetime.combine(date(2000, 1, 3), block.starts_at)
        end = datetime.combine(date(2000, 1, 3), block.ends_at)
        while start + timedelta(minutes=SLOT_MINUTES) <= end:
            slots[block.weekday].append(start.time())
            start += timedelta(minutes=SLOT_MINUTES)
    return slots


def _scale_staff(sizes: ScaleSizes) -> tuple[list[StaffMember], dict[int, int]]:
    """The demo logins and dermatologists, more dermatologists up to the size, their hours,
    and one treatment room per dermatologist (its column's room)."""
    seed_staff()
    for n in range(StaffMember.objects.dermatologists().count(), sizes.dermatologists):
        extra = _staff(
            f"dr.scale{n:02d}",
            FIRST_NAMES[n % len(FIRST_NAMES)],
            LAST_NAMES[n % len(LAST_NAMES)],
            StaffMember.Role.DERMATOLOGIST,
            title="Dr.",
            can_log_in=False,
        )
        for weekday in range(5):
            for starts_at, ends_at in ((time(8, 30), time(12, 30)), (time(13, 30), time(17, 0))):
                WorkingHours.objects.get_or_create(
                    staff_member=extra,
                    weekday=weekday,
                    starts_at=starts_at,
                    defaults={"ends_at": ends_at},
                )
    dermatologists = list(
        StaffMember.objects.bookable()
        .select_related("user")
        .prefetch_related("working_hours")
        .order_by("pk")[: sizes.dermatologists]
    )
    rooms = {}
    for column, dermatologist in enumerate(dermatologists, start=1):
        room, _ = Room.objects.get_or_create(
            name=f"Treatment room {column}", defaults={"kind": Room.Kind.TREATMENT}
        )
        rooms[dermatologist.pk] = room.pk
    return dermatologists, rooms


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


PATIENT_FIELDS = [
    "id",
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "email",
    "phone",
    "preferred_channel",
    "language",
    "reminder_consent",
    "reminder_consent_changed_at",
    "created_at",
    "updated_at",
]


def _patients(writer, rng, sizes, first_id, today, now) -> None:
    rows = []
    for n in range(sizes.patients):
        pk = first_id + n
        if n == 0:
            first, last = CHART_PATIENT_NAME
        else:
            first = rng.choice(FIRST_NAMES) if rng.random() < 0.5 else _name(rng)
            last = rng.choice(LAST_NAMES) if rng.random() < 0.3 else _name(rng)
        born = today - timedelta(days=rng.randint(19 * 365, 85 * 365))
        rows.append(
            (
                pk,
                mrn_for(pk),
                first,
                last,
                born,
                rng.choice(["female", "male", "unknown"]),
                f"patient{pk}@example.com",
                f"+1{rng.randint(2_000_000_000, 9_999_999_999)}",
                "sms" if rng.random() < SMS_SHARE else "email",
                "en",
                True,
                now,
                now,
                now,
            )
        )
        if len(rows) == BATCH_ROWS:
            writer.write(Patient, PATIENT_FIELDS, rows)
            rows = []
    writer.write(Patient, PATIENT_FIELDS, rows)


LESION_FIELDS = [
    "id",
    "patient_id",
    "site",
    "milia_type",
    "size_mm",
    "count",
    "colour",
    "first_noted",
    "status",
    "resolved_on",
    "note",
    "created_at",
    "updated_at",
]


def _lesions(writer, rng, sizes, first_patient, first_id, first_day, now) -> list[tuple[int, int]]:
    """Lesions in patient order; returns each patient's (first lesion id, count)."""
    total = int(sizes.lesions * LESION_SHARE)
    per_patient = max(1, total // sizes.patients)
    sites, types = Lesion.Site.values, [Lesion.MiliaType.PRIMARY, Lesion.MiliaType.SECONDARY]
    ranges, rows, pk = [], [], first_id
    for n in range(sizes.patients):
        count = 30 if n == 0 else per_patient
        ranges.append((pk, count))
        for _ in range(count):
            noted = first_day + timedelta(days=rng.randint(0, 3000))
            resolved = rng.random() < 0.4
            rows.append(
                (
                    pk,
                    first_patient + n,
                    rng.choice(sites),
                    rng.choice(types),
                    None,
                    rng.randint(1, 12),
                    "white",
                    noted,
                    "resolved" if resolved else "active",
                    noted + timedelta(days=rng.randint(10, 300)) if resolved else None,
                    "",
                    now,
                    now,
                )
            )
            pk += 1
            if len(rows) == BATCH_ROWS:
                writer.write(Lesion, LESION_FIELDS, rows)
                rows = []
    writer.write(Lesion, LESION_FIELDS, rows)
    return ranges


APPOINTMENT_FIELDS = [
    "id",
    "patient_id",
    "dermatologist_id",
    "room_id",
    "procedure_type_id",
    "starts_at",
    "ends_at",
    "status",
    "reason",
    "cancellation_reason",
    "created_by_id",
    "created_at",
    "updated_at",
]
PROCEDURE_FIELDS = [
    "id",
    "appointment_id",
    "patient_id",
    "dermatologist_id",
    "procedure_type_id",
    "performed_at",
    "instrument",
    "cryo_method",
    "anesthetic",
    "hemostasis",
    "consent_obtained",
    "consent_given_by",
    "consent_at",
    "complication_bleeding",
    "complication_blistering",
    "complication_pain",
    "complication_note",
    "note",
    "diagnosis_code",
    "procedure_code",
    "procedure_code_overridden",
    "aftercare_text",
    "status",
    "signed_at",
    "signed_by_id",
    "created_by_id",
    "created_at",
    "updated_at",
]
FOLLOW_UP_FIELDS = [
    "id",
    "patient_id",
    "procedure_id",
    "kind",
    "due_on",
    "status",
    "appointment_id",
    "created_by_id",
    "created_at",
    "completed_at",
]


@dataclass
class _Ids:
    appointment: int
    procedure: int
    procedure_lesion: int
    follow_up: int


def _appointment_plan(sizes, dermatologists, first_day, last_day) -> tuple[int, dict]:
    """How many appointments each (dermatologist, day) gets so that the total is exact."""
    slots = {d.pk: _slot_times(list(d.working_hours.all())) for d in dermatologists}
    capacity = sum(
        len(slots[d.pk][day.weekday()])
        for day in _days(first_day, last_day)
        for d in dermatologists
    )
    if sizes.appointments > capacity:
        raise ValueError(
            f"{sizes.appointments} appointments do not fit {capacity} slots: more dermatologists."
        )
    return capacity, slots


def _appointments(writer, rng, sizes, staff, first_patient, lesion_ranges, ids, bounds, now):
    """Appointments day by day, with procedures (and their lesions and follow-ups) for a
    share of the completed ones; each chunk of days is written table by table."""
    dermatologists, rooms = staff
    first_day, last_day = bounds
    capacity, slots = _appointment_plan(sizes, dermatologists, first_day, last_day)
    fill = sizes.appointments / capacity
    # Scale patients speak English: each record carries its type's English aftercare.
    english = AftercareText.objects.filter(procedure_type=OuterRef("pk"), language="en")
    types = {
        t.slug: t
        for t in ProcedureType.objects.filter(slug__in=SLOT_PROCEDURES + SLOT_VISITS).annotate(
            aftercare_english=Coalesce(
                Subquery(english.values("text")[:1]), Value(""), output_field=TextField()
            )
        )
    }
    procedure_total = sizes.lesions - int(sizes.lesions * LESION_SHARE)
    procedure_share = min(1.0, procedure_total / max(1, sizes.appointments * 0.6))
    zone = timezone.get_current_timezone()
    made = procedures_made = 0
    buffers: dict = {Appointment: [], Procedure: [], ProcedureLesion: [], FollowUp: []}
    fields = {
        Appointment: APPOINTMENT_FIELDS,
        Procedure: PROCEDURE_FIELDS,
        ProcedureLesion: ["id", "procedure_id", "lesion_id"],
        FollowUp: FOLLOW_UP_FIELDS,
    }

    def flush():
        for model, rows in buffers.items():
            writer.write(model, fields[model], rows)
            rows.clear()

    for day_number, day in enumerate(_days(first_day, last_day)):
        for dermatologist in dermatologists:
            day_slots = slots[dermatologist.pk][day.weekday()]
            # Each slot is taken with the same chance, so that the total comes out near
            # the size asked for (never above it).
            for slot_start in day_slots:
                if made >= sizes.appointments or rng.random() >= fill:
                    continue
                start = datetime.combine(day, slot_start, tzinfo=zone).astimezone(UTC)
                is_procedure = rng.random() < 0.8
                kind = types[rng.choice(SLOT_PROCEDURES if is_procedure else SLOT_VISITS)]
                end = start + timedelta(minutes=kind.duration_minutes)
                chart_patient = made % CHART_PATIENT_SHARE == 0
                patient_index = 0 if chart_patient else rng.randrange(sizes.patients)
                draw = rng.random()
                if draw < CANCELLED_SHARE:
                    status, cancelled = "cancelled", "Patient called to cancel."
                elif end > now:
                    status, cancelled = ("confirmed" if draw < 0.5 else "booked"), ""
                else:
                    status, cancelled = ("no_show" if draw > 1 - NO_SHOW_SHARE else "completed"), ""
                room = rooms[dermatologist.pk] if kind.needs_treatment_room else None
                pk = ids.appointment
                ids.appointment += 1
                made += 1
                booked_at = start - timedelta(days=rng.randint(1, 60))
                buffers[Appointment].append(
                    (
                        pk,
                        first_patient + patient_index,
                        dermatologist.pk,
                        room,
                        kind.pk,
                        start,
                        end,
                        status,
                        "",
                        cancelled,
                        None,
                        booked_at,
                        booked_at,
                    )
                )
                if (
                    status == "completed"
                    and kind.is_procedure
                    and procedures_made < procedure_total
                    and (chart_patient or rng.random() < procedure_share)
                ):
                    procedures_made += 1
                    procedure_patient = first_patient + patient_index
                    procedure = _procedure(
                        rng, ids, pk, procedure_patient, kind, dermatologist, start
                    )
                    buffers[Procedure].append(procedure)
                    first_lesion, count = lesion_ranges[patient_index]
                    for offset in rng.sample(range(count), min(count, rng.randint(1, 3))):
                        buffers[ProcedureLesion].append(
                            (ids.procedure_lesion, procedure[0], first_lesion + offset)
                        )
                        ids.procedure_lesion += 1
                    if rng.random() < FOLLOW_UP_SHARE:
                        _follow_up(buffers, ids, procedure_patient, procedure[0], start, now)
        if day_number % DAYS_PER_CHUNK == DAYS_PER_CHUNK - 1:
            flush()
    flush()
    return made


def _procedure(rng, ids, appointment_id, patient_id, kind, dermatologist, start) -> tuple:
    pk = ids.procedure
    ids.procedure += 1
    signed_at = start + timedelta(minutes=20)
    return (
        pk,
        appointment_id,
        patient_id,
        dermatologist.pk,
        kind.pk,
        start,
        "comedone_extractor" if kind.slug == "extraction" else "",
        "spray" if kind.slug == "cryotherapy" else "",
        "",
        "",
        True,
        "patient",
        start,
        False,
        rng.random() < 0.02,
        False,
        "",
        "",
        "L72.0",
        kind.code,
        False,
        kind.aftercare_english,
        "signed",
        signed_at,
        dermatologist.user_id,
        dermatologist.user_id,
        signed_at,
        signed_at,
    )


def _follow_up(buffers, ids, patient_id, procedure_id, start, now) -> None:
    due = timezone.localdate(start + timedelta(weeks=12))
    past = start + timedelta(weeks=12) < now
    buffers[FollowUp].append(
        (
            ids.follow_up,
            patient_id,
            procedure_id,
            "recurrence_check",
            due,
            "done" if past else "open",
            None,
            None,
            start,
            start + timedelta(weeks=12) if past else None,
        )
    )
    ids.follow_up += 1


REMINDER_FIELDS = [
    "id",
    "patient_id",
    "recipient_name",
    "channel",
    "email",
    "phone",
    "language",
    "kind",
    "send_at",
    "status",
    "attempts",
    "next_attempt_at",
    "claimed_at",
    "last_error",
    "skip_reason",
    "provider_message_id",
    "sent_at",
    "idempotency_key",
    "source_key",
    "context",
    "created_at",
]


def due_reminder_context(n: int, patient_id: int, starts_at: datetime) -> dict:
    """What an appointment reminder's templates need (the planning rules write the same)."""
    return {
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(minutes=15)).isoformat(),
        "dermatologist": "Dr. Ana Ortiz",
        "event_uid": f"appointment-scale-{n}@clinic.example.com",
        "for_guardian": False,
        "patient_first_name": "Ada",
        "links": {
            "confirm_url": ["confirm", n],
            "cancel_url": ["cancel", n],
            "stop_url": ["stop", patient_id],
        },
    }


def _reminders(writer, rng, sizes, first_patient, first_id, bounds, now) -> None:
    """Sent ones in the past, pending ones ahead, a few cancelled; `due_now` due, by email."""
    first_day, last_day = bounds
    start = datetime.combine(first_day, time(9), tzinfo=UTC)
    span = (datetime.combine(last_day, time(9), tzinfo=UTC) - start).total_seconds()
    rows = []
    for n in range(sizes.reminders):
        pk = first_id + n
        patient = first_patient + rng.randrange(sizes.patients)
        due_now = n < sizes.due_now
        if due_now:
            send_at = now - timedelta(seconds=rng.randint(60, 3000))
        else:
            send_at = start + timedelta(seconds=rng.random() * span)
        channel = "email" if due_now or rng.random() >= SMS_SHARE else "sms"
        if due_now or send_at > now:
            status, next_attempt, sent_at = "pending", send_at, None
        else:
            status, next_attempt, sent_at = "sent", None, send_at
        if not due_now and rng.random() < 0.05:
            status, next_attempt, sent_at = "cancelled", None, None
        pending = status == "pending"
        context = due_reminder_context(n, patient, send_at + timedelta(hours=24)) if pending else {}
        rows.append(
            (
                pk,
                patient,
                "Ada Lovelace",
                channel,
                f"patient{patient}@example.com" if channel == "email" else "",
                f"+1212555{patient % 10_000:04d}" if channel == "sms" else "",
                "en",
                "appointment",
                send_at,
                status,
                1 if sent_at else 0,
                next_attempt,
                None,
                "",
                "Visit cancelled." if status == "cancelled" else "",
                "",
                sent_at,
                f"scale:{pk}:reminder-24h:{channel}",
                f"appointment:scale-{pk}",
                context if connection.vendor != "postgresql" else json.dumps(context),
                send_at - timedelta(days=1),
            )
        )
        if len(rows) == BATCH_ROWS:
            writer.write(Reminder, REMINDER_FIELDS, rows)
            rows = []
    writer.write(Reminder, REMINDER_FIELDS, rows)


def chart_patient() -> Patient | None:
    first, last = CHART_PATIENT_NAME
    return Patient.objects.filter(first_name=first, last_name=last).order_by("pk").first()


def seed_scale(
    sizes: ScaleSizes, *, now: datetime | None = None, progress: bool = False
) -> dict[str, int]:
    """Fill the database to the given sizes; returns rows written by model label.

    Raises AlreadySeeded when the database holds appointments already.
    """
    if Appointment.objects.exists():
        raise AlreadySeeded("The database holds appointments already; seed an empty one.")
    now = now or timezone.now()
    today = timezone.localdate(now)
    bounds = (today - timedelta(days=sizes.days_back), today + timedelta(days=sizes.days_ahead))
    rng = random.Random(sizes.seed)
    total = sizes.patients + sizes.lesions + sizes.appointments + sizes.reminders
    bar = _Progress(total, progress)
    writer = _Writer(bar)
    try:
        with transaction.atomic():
            staff = _scale_staff(sizes)
            first_patient = _next_id(Patient)
            _patients(writer, rng, sizes, first_patient, today, now)
            ranges = _lesions(writer, rng, sizes, first_patient, _next_id(Lesion), bounds[0], now)
            ids = _Ids(
                _next_id(Appointment),
                _next_id(Procedure),
                _next_id(ProcedureLesion),
                _next_id(FollowUp),
            )
            _appointments(writer, rng, sizes, staff, first_patient, ranges, ids, bounds, now)
            _reminders(writer, rng, sizes, first_patient, _next_id(Reminder), bounds, now)
            models = [Patient, Lesion, Appointment, Procedure, ProcedureLesion, FollowUp, Reminder]
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(sql)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    finally:
        bar.close()
    return writer.written
