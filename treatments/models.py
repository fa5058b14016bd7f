"""The procedure catalogue and appointments: booking a treatment with a dermatologist."""

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from clinic.models import Room, StaffMember
from patients.models import Lesion, Patient

from .constraints import ACTIVE_STATUSES, DERMATOLOGIST_OVERLAP, ROOM_OVERLAP, no_overlap

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# The longest a reminder may go out before its visit: four weeks.
REMINDER_OFFSET_MAX_HOURS = 672


def validate_reminder_offsets(value: object) -> None:
    """A list of whole hours before the visit, each from 1 to REMINDER_OFFSET_MAX_HOURS,
    none twice; an empty list means the clinic's default (CLINIC_REMINDER_OFFSETS_HOURS)."""
    if not isinstance(value, list) or not all(
        isinstance(hours, int) and not isinstance(hours, bool) for hours in value
    ):
        raise ValidationError("Give whole hours, e.g. 48, 24.")
    if any(hours < 1 or hours > REMINDER_OFFSET_MAX_HOURS for hours in value):
        raise ValidationError(
            f"Each offset must be from 1 to {REMINDER_OFFSET_MAX_HOURS} hours before the visit."
        )
    if len(set(value)) != len(value):
        raise ValidationError("Give each offset once.")


class ProcedureType(models.Model):
    """An entry of the procedure catalogue; the clinic manager edits it in the admin.

    Clinical content (durations, codes, aftercare, follow-up) is data with sensible
    defaults loaded by a migration, not code.
    """

    class Anesthesia(models.TextChoices):
        NONE = "none", "None"
        TOPICAL_SOMETIMES = "topical_sometimes", "Sometimes topical"
        TOPICAL = "topical", "Topical"
        LOCAL = "local", "Local (e.g. lidocaine 1%)"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80, unique=True)
    is_procedure = models.BooleanField(
        default=True, help_text="False for visits without a procedure (watchful waiting, advice)."
    )
    duration_minutes = models.PositiveSmallIntegerField(help_text="Length of the visit")
    needs_treatment_room = models.BooleanField(default=True)
    anesthesia = models.CharField(
        max_length=20, choices=Anesthesia.choices, default=Anesthesia.NONE
    )
    code = models.CharField(max_length=10, blank=True, help_text="CPT code (up to 14 lesions)")
    code_15_or_more = models.CharField(
        max_length=10, blank=True, help_text="CPT code for 15 or more lesions, if different"
    )
    follow_up_weeks = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Recurrence check this many weeks later; empty for none"
    )
    reminder_offsets = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_reminder_offsets],
        help_text="Appointment reminders this many hours before the visit, e.g. 48, 24; "
        "empty: the clinic's default",
    )
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=240),
                name="procedure_duration_range",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_weeks__isnull=True)
                | (Q(follow_up_weeks__gte=1) & Q(follow_up_weeks__lte=104)),
                name="procedure_follow_up_range",
            ),
            models.CheckConstraint(
                condition=Q(code_15_or_more="") | ~Q(code=""),
                name="procedure_many_code_needs_code",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def reminder_offsets_hours(self) -> tuple[int, ...]:
        """The hours before a visit of this type that its reminders go, latest first."""
        offsets = self.reminder_offsets or settings.CLINIC_REMINDER_OFFSETS_HOURS
        return tuple(sorted(offsets, reverse=True))


class AftercareText(models.Model):
    """A procedure type's aftercare instructions in one patient language. The manager edits
    the languages side by side on the procedure type's admin page; a missing one falls back
    to the clinic's default language, then English (selectors/catalogue.py)."""

    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.CASCADE, related_name="aftercare_texts"
    )
    language = models.CharField(max_length=8, choices=settings.PATIENT_LANGUAGES)
    text = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["procedure_type", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["procedure_type", "language"], name="aftercare_text_once_per_language"
            ),
            models.CheckConstraint(condition=~Q(text=""), name="aftercare_text_not_empty"),
        ]

    def __str__(self):
        return f"{self.procedure_type} · {self.language}"


class AppointmentQuerySet(models.QuerySet["Appointment"]):
    def active(self) -> "AppointmentQuerySet":
        """Visits that hold their dermatologist's and room's time."""
        return self.filter(status__in=ACTIVE_STATUSES)

    def expected(self) -> "AppointmentQuerySet":
        """Visits whose patient is expected or has arrived: booked, confirmed, checked in."""
        return self.filter(
            status__in=[
                Appointment.Status.BOOKED,
                Appointment.Status.CONFIRMED,
                Appointment.Status.CHECKED_IN,
            ]
        )

    def starting_between(self, start: datetime, end: datetime) -> "AppointmentQuerySet":
        """Visits that start in [start, end)."""
        return self.filter(starts_at__gte=start, starts_at__lt=end)


class Appointment(models.Model):
    """A booked visit: a patient, a dermatologist, perhaps a room, for one procedure type."""

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CONFIRMED = "confirmed", "Confirmed"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    # These hold the dermatologist's and the room's time; the others free it.
    ACTIVE_STATUSES = ACTIVE_STATUSES

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    dermatologist = models.ForeignKey(
        StaffMember,
        on_delete=models.PROTECT,
        related_name="appointments",
        limit_choices_to={"role": StaffMember.Role.DERMATOLOGIST},
    )
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.PROTECT, related_name="appointments"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    reason = models.CharField(max_length=200, blank=True, help_text="Reason for the visit")
    # The record's id in the system the clinic moved from (the CSV import, docs/import.md):
    # re-importing a file finds the rows it already made. Empty for the clinic's own.
    external_id = models.CharField(
        "external ID", max_length=64, null=True, blank=True, unique=True, editable=False
    )
    cancellation_reason = models.CharField(max_length=200, blank=True)
    # The calendar file's SEQUENCE: one more on every move, cancellation and reinstatement,
    # so a calendar app replaces the entry it holds rather than keeping the old time.
    # Scale seeds COPY rows without naming it: a default in the database too.
    sequence = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["starts_at"], name="appointment_start_idx"),
            models.Index(fields=["dermatologist", "starts_at"], name="appointment_derm_start_idx"),
            models.Index(fields=["room", "starts_at"], name="appointment_room_start_idx"),
            models.Index(fields=["patient", "starts_at"], name="appointment_patient_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="appointment_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "booked",
                        "confirmed",
                        "checked_in",
                        "completed",
                        "cancelled",
                        "no_show",
                    ]
                ),
                name="appointment_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | ~Q(cancellation_reason=""),
                name="appointment_cancel_has_reason",
            ),
            no_overlap(DERMATOLOGIST_OVERLAP, "dermatologist"),
            no_overlap(ROOM_OVERLAP, "room"),
        ]

    def __str__(self):
        return (
            f"{self.patient.full_name} with {self.dermatologist} at {self.starts_at:%Y-%m-%d %H:%M}"
        )


class AppointmentEvent(models.Model):
    """Who did what to an appointment, and when: the life cycle's audit trail."""

    class Action(models.TextChoices):
        BOOKED = "booked", "Booked"
        RESCHEDULED = "rescheduled", "Rescheduled"
        CONFIRMED = "confirmed", "Confirmed"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "Marked no-show"
        REINSTATED = "reinstated", "Reinstated"

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=12, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when the patient acted through a link.",
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["appointment", "at"], name="event_appointment_at_idx")]

    def __str__(self):
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"


class WaitlistEntry(models.Model):
    """A patient who wants an earlier slot; offered when a matching appointment is freed."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked"
        REMOVED = "removed", "Removed"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="waitlist_entries")
    procedure_type = models.ForeignKey(ProcedureType, on_delete=models.PROTECT, related_name="+")
    dermatologist = models.ForeignKey(
        StaffMember,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"role": StaffMember.Role.DERMATOLOGIST},
        help_text="Empty: any dermatologist",
    )
    earliest_date = models.DateField()
    latest_date = models.DateField()
    earliest_time = models.TimeField(null=True, blank=True, help_text="Empty: from opening")
    latest_time = models.TimeField(null=True, blank=True, help_text="Empty: until closing")
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "waitlist entries"
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["procedure_type", "earliest_date"],
                condition=Q(status="waiting"),
                name="waitlist_waiting_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latest_date__gte=F("earliest_date")), name="waitlist_dates_in_order"
            ),
            models.CheckConstraint(
                condition=Q(earliest_time__isnull=True)
                | Q(latest_time__isnull=True)
                | Q(latest_time__gt=F("earliest_time")),
                name="waitlist_times_in_order",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["waiting", "booked", "removed"]),
                name="waitlist_status_valid",
            ),
        ]

    def __str__(self):
        window = f"{self.earliest_date}–{self.latest_date}"
        return f"{self.patient.full_name}: {self.procedure_type} {window}"


DIAGNOSIS_MILIA = "L72.0"
# A CPT code: five digits (Category I, 17110), or four digits and F (Category II, 3008F)
# or T (Category III, 0479T). ASCII digits only, and the whole value (\A…\Z, which both
# Python and PostgreSQL read so): Python's \d and $ would also take other scripts' digits
# and a trailing newline.
CPT_CODE_PATTERN = r"\A[0-9]{4}[0-9FT]\Z"
cpt_code_validator = RegexValidator(
    CPT_CODE_PATTERN,
    "A CPT code is five digits, or four digits and F or T (17110, 3008F, 0479T).",
    code="cpt_code",
)


class Procedure(models.Model):
    """What a dermatologist did at a visit, on which lesions; signed, then locked.

    One row per visit. The technique's own fields are columns (checked by the database
    where a range applies); which of them a procedure type needs is the recording
    service's rule. After signing the row is never changed: corrections are Amendments.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    class Instrument(models.TextChoices):
        COMEDONE_EXTRACTOR = "comedone_extractor", "Comedone extractor"
        TWEEZERS = "tweezers", "Fine tweezers"
        NEEDLE = "needle", "Sterile needle"
        BLADE_11 = "blade_11", "Blade no. 11"

    class CryoMethod(models.TextChoices):
        SPRAY = "spray", "Spray"
        PROBE = "probe", "Probe"
        COTTON_TIP = "cotton_tip", "Cotton tip"

    class Anesthetic(models.TextChoices):
        NONE = "none", "None"
        LIDOCAINE_1 = "lidocaine_1", "Lidocaine 1%"
        LIDOCAINE_1_EPINEPHRINE = "lidocaine_1_epi", "Lidocaine 1% with epinephrine"
        TOPICAL = "topical", "Topical anesthetic cream"

    class Hemostasis(models.TextChoices):
        ELECTROCAUTERY = "electrocautery", "Electrocautery"
        ALUMINIUM_CHLORIDE = "aluminium_chloride", "Aluminium chloride"
        PRESSURE = "pressure", "Pressure"

    class ConsentBy(models.TextChoices):
        PATIENT = "patient", "Patient"
        GUARDIAN = "guardian", "Guardian"

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="procedure"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="procedures")
    dermatologist = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    procedure_type = models.ForeignKey(ProcedureType, on_delete=models.PROTECT, related_name="+")
    performed_at = models.DateTimeField()
    lesions = models.ManyToManyField(Lesion, through="ProcedureLesion", related_name="procedures")
    # Extraction, de-roofing
    instrument = models.CharField(max_length=20, choices=Instrument.choices, blank=True)
    needle_gauge = models.PositiveSmallIntegerField(null=True, blank=True)
    lesions_cleared = models.PositiveSmallIntegerField(null=True, blank=True)
    # Cryotherapy
    cryo_method = models.CharField(max_length=12, choices=CryoMethod.choices, blank=True)
    freeze_seconds = models.PositiveSmallIntegerField(null=True, blank=True)
    freeze_thaw_cycles = models.PositiveSmallIntegerField(null=True, blank=True)
    halo_mm = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    # Curettage, electrodesiccation
    anesthetic = models.CharField(max_length=20, choices=Anesthetic.choices, blank=True)
    anesthetic_volume_ml = models.DecimalField(
        max_digits=3, decimal_places=1, null=True, blank=True
    )
    hemostasis = models.CharField(max_length=20, choices=Hemostasis.choices, blank=True)
    # Every procedure
    consent_obtained = models.BooleanField(default=False)
    consent_given_by = models.CharField(max_length=8, choices=ConsentBy.choices, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    complication_bleeding = models.BooleanField(default=False)
    complication_blistering = models.BooleanField(default=False)
    complication_pain = models.BooleanField(default=False)
    complication_note = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True)
    diagnosis_code = models.CharField(max_length=10, default=DIAGNOSIS_MILIA)
    procedure_code = models.CharField(max_length=10, blank=True, validators=[cpt_code_validator])
    procedure_code_overridden = models.BooleanField(default=False)
    # Written by another dermatologist (created_by) for the visit's dermatologist, who
    # stays the record's dermatologist and signs it. A default in the database too, so
    # that bulk loads naming their columns (seed_scale's COPY) need not know of it.
    recorded_on_behalf = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Recorded by another dermatologist (created by) for the visit's dermatologist",
    )
    aftercare_text = models.TextField(blank=True, help_text="As given to the patient")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])
    # The user the next history row names; services set it before save() (django-simple-history).
    _history_user: "User | None"

    class Meta:
        ordering = ["-performed_at"]
        indexes = [models.Index(fields=["patient", "performed_at"], name="procedure_patient_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(freeze_seconds__isnull=True)
                | (Q(freeze_seconds__gte=1) & Q(freeze_seconds__lte=60)),
                name="procedure_freeze_seconds_range",
            ),
            models.CheckConstraint(
                condition=Q(freeze_thaw_cycles__isnull=True)
                | (Q(freeze_thaw_cycles__gte=1) & Q(freeze_thaw_cycles__lte=3)),
                name="procedure_freeze_cycles_range",
            ),
            models.CheckConstraint(
                condition=Q(halo_mm__isnull=True) | (Q(halo_mm__gte=0) & Q(halo_mm__lte=10)),
                name="procedure_halo_range",
            ),
            models.CheckConstraint(
                condition=Q(anesthetic_volume_ml__isnull=True)
                | (Q(anesthetic_volume_ml__gt=0) & Q(anesthetic_volume_ml__lte=20)),
                name="procedure_anesthetic_volume_range",
            ),
            models.CheckConstraint(
                condition=Q(needle_gauge__isnull=True)
                | (Q(needle_gauge__gte=18) & Q(needle_gauge__lte=34)),
                name="procedure_needle_gauge_range",
            ),
            models.CheckConstraint(
                condition=Q(consent_obtained=False)
                | (~Q(consent_given_by="") & Q(consent_at__isnull=False)),
                name="procedure_consent_has_who_and_when",
            ),
            models.CheckConstraint(
                condition=(Q(status="draft") & Q(signed_at__isnull=True))
                | (Q(status="signed") & Q(signed_at__isnull=False) & Q(signed_by__isnull=False)),
                name="procedure_signed_has_who_and_when",
            ),
            models.CheckConstraint(condition=~Q(diagnosis_code=""), name="procedure_has_diagnosis"),
            models.CheckConstraint(
                condition=Q(procedure_code="") | Q(procedure_code__regex=CPT_CODE_PATTERN),
                name="procedure_code_is_cpt",
            ),
            models.CheckConstraint(
                condition=Q(recorded_on_behalf=False) | Q(created_by__isnull=False),
                name="procedure_on_behalf_names_its_author",
            ),
        ]

    def __str__(self):
        return f"{self.procedure_type} for {self.patient.full_name} on {self.performed_at:%Y-%m-%d}"

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED


class ProcedureLesion(models.Model):
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="+")
    lesion = models.ForeignKey(Lesion, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["procedure", "lesion"], name="procedure_lesion_once"),
        ]

    def __str__(self):
        return f"{self.lesion} in {self.procedure}"


class Amendment(models.Model):
    """A correction of a signed procedure record, kept beside the original, never instead."""

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="amendments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=300)
    text = models.TextField(help_text="The correction, as it should read")
    history = HistoricalRecords()
    # The user the next history row names; services set it before save() (django-simple-history).
    _history_user: "User | None"

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason="") & ~Q(text=""), name="amendment_has_reason_and_text"
            ),
        ]

    def __str__(self):
        return f"Amendment of {self.procedure} at {self.created_at:%Y-%m-%d %H:%M}"


class FollowUp(models.Model):
    """A check the patient should come back for: recurrence after a procedure, or a recheck."""

    class Kind(models.TextChoices):
        RECURRENCE_CHECK = "recurrence_check", "Recurrence check"
        RECHECK = "recheck", "Recheck"

    class Status(models.TextChoices):
        OPEN = "open", "Due"
        BOOKED = "booked", "Booked"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="follow_ups")
    procedure = models.ForeignKey(
        Procedure, on_delete=models.PROTECT, null=True, blank=True, related_name="follow_ups"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_ups"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    booking_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient asked (through a link) to book it"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()
    # The user the next history row names; services set it before save() (django-simple-history).
    _history_user: "User | None"

    class Meta:
        ordering = ["due_on"]
        indexes = [
            models.Index(
                fields=["due_on"],
                condition=Q(status__in=["open", "booked"]),
                name="followup_due_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "booked", "done", "cancelled"]),
                name="followup_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="booked") | Q(appointment__isnull=False),
                name="followup_booked_has_appointment",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(completed_at__isnull=False),
                name="followup_done_has_time",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.patient.full_name} due {self.due_on}"


class FollowUpOutcome(models.Model):
    """What became of one lesion at a follow-up."""

    class Outcome(models.TextChoices):
        RESOLVED = "resolved", "Resolved"
        PARTLY_RESOLVED = "partly_resolved", "Partly resolved"
        RECURRED = "recurred", "Recurred"
        NEW_NEARBY = "new_nearby", "New lesions nearby"
        COMPLICATION = "complication", "Complication"

    class Complication(models.TextChoices):
        HYPOPIGMENTATION = "hypopigmentation", "Hypopigmentation"
        SCARRING = "scarring", "Scarring"
        INFECTION = "infection", "Infection"

    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="outcomes")
    lesion = models.ForeignKey(Lesion, on_delete=models.PROTECT, related_name="outcomes")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    complication = models.CharField(max_length=16, choices=Complication.choices, blank=True)
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follow_up", "lesion"], name="outcome_once_per_lesion"),
            models.CheckConstraint(
                condition=(Q(outcome="complication") & ~Q(complication=""))
                | (~Q(outcome="complication") & Q(complication="")),
                name="outcome_complication_named",
            ),
        ]

    def __str__(self):
        return f"{self.lesion}: {self.get_outcome_display()}"


def private_photo_storage():
    """Clinical photos live outside every public path; a view serves them after a check."""
    return FileSystemStorage(location=settings.CLINIC_PRIVATE_MEDIA_ROOT, base_url=None)


def photo_path(photo, filename: str) -> str:
    return f"photos/{photo.patient_id}/{filename}"


class ClinicalPhoto(models.Model):
    """A photo of a lesion, or of the treated area at a visit; EXIF (and GPS) stripped."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="photos")
    lesion = models.ForeignKey(
        Lesion, on_delete=models.PROTECT, null=True, blank=True, related_name="photos"
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="photos"
    )
    image = models.FileField(storage=private_photo_storage, upload_to=photo_path)
    thumbnail = models.FileField(storage=private_photo_storage, upload_to=photo_path)
    content_type = models.CharField(max_length=20)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    caption = models.CharField(max_length=200, blank=True)
    taken_on = models.DateField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()
    # The user the next history row names; services set it before save() (django-simple-history).
    _history_user: "User | None"

    class Meta:
        ordering = ["taken_on", "uploaded_at"]
        indexes = [models.Index(fields=["patient", "taken_on"], name="photo_patient_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(lesion__isnull=False) | Q(appointment__isnull=False),
                name="photo_of_a_lesion_or_a_visit",
            ),
            models.CheckConstraint(
                condition=Q(content_type__in=["image/jpeg", "image/png"]),
                name="photo_jpeg_or_png",
            ),
        ]

    def __str__(self):
        return f"Photo of {self.patient.full_name}, {self.taken_on}"
