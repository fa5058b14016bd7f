"""The procedure catalogue and appointments: booking a treatment with a dermatologist."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from clinic.models import Room, StaffMember
from patients.models import Lesion, Patient

from .constraints import (
    ACTIVE_STATUSES,
    DERMATOLOGIST_OVERLAP,
    FEE_CODE_OVERLAP,
    FEE_TYPE_OVERLAP,
    ROOM_OVERLAP,
    fee_periods_do_not_overlap,
    no_overlap,
)

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
        raise ValidationError(_("Give whole hours, e.g. 48, 24."))
    if any(hours < 1 or hours > REMINDER_OFFSET_MAX_HOURS for hours in value):
        raise ValidationError(
            _("Each offset must be from 1 to %(most)s hours before the visit."),
            params={"most": REMINDER_OFFSET_MAX_HOURS},
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("Give each offset once."))


class ProcedureType(models.Model):
    """An entry of the procedure catalogue; the clinic manager edits it in the admin.

    Clinical content (durations, codes, aftercare, follow-up) is data with sensible
    defaults loaded by a migration, not code.
    """

    class Anesthesia(models.TextChoices):
        NONE = "none", _("None")
        TOPICAL_SOMETIMES = "topical_sometimes", _("Sometimes topical")
        TOPICAL = "topical", _("Topical")
        LOCAL = "local", _("Local (e.g. lidocaine 1%)")

    slug = models.SlugField(max_length=40, unique=True, verbose_name=_("slug"))
    name = models.CharField(max_length=80, unique=True, verbose_name=_("name"))
    is_procedure = models.BooleanField(
        default=True,
        help_text=_("False for visits without a procedure (watchful waiting, advice)."),
        verbose_name=_("is procedure"),
    )
    duration_minutes = models.PositiveSmallIntegerField(
        help_text=_("Length of the visit"), verbose_name=_("duration minutes")
    )
    needs_treatment_room = models.BooleanField(default=True, verbose_name=_("needs treatment room"))
    anesthesia = models.CharField(
        max_length=20,
        choices=Anesthesia.choices,
        default=Anesthesia.NONE,
        verbose_name=_("anesthesia"),
    )
    code = models.CharField(
        max_length=10,
        blank=True,
        help_text=_("CPT code (up to 14 lesions)"),
        verbose_name=_("code"),
    )
    code_15_or_more = models.CharField(
        max_length=10,
        blank=True,
        help_text=_("CPT code for 15 or more lesions, if different"),
        verbose_name=_("code 15 or more"),
    )
    follow_up_weeks = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=_("Recurrence check this many weeks later; empty for none"),
        verbose_name=_("follow up weeks"),
    )
    reminder_offsets = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_reminder_offsets],
        help_text=_(
            "Appointment reminders this many hours before the visit, e.g. 48, 24; "
            "empty: the clinic's default"
        ),
        verbose_name=_("reminder offsets"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    sort_order = models.PositiveSmallIntegerField(default=0, verbose_name=_("sort order"))
    # The public booking page (portal/) offers only these.
    bookable_online = models.BooleanField(
        default=False,
        help_text=_("Patients may book this visit type on the public booking page."),
        verbose_name=_("bookable online"),
    )
    online_returning_only = models.BooleanField(
        default=False,
        help_text=_(
            "Online, only patients the clinic already knows may book it "
            "(a named procedure after a consultation)."
        ),
        verbose_name=_("online returning only"),
    )

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
        ProcedureType,
        on_delete=models.CASCADE,
        related_name="aftercare_texts",
        verbose_name=_("procedure type"),
    )
    language = models.CharField(
        max_length=8, choices=settings.PATIENT_LANGUAGES, verbose_name=_("language")
    )
    text = models.TextField(verbose_name=_("text"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

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
        BOOKED = "booked", _("Booked")
        CONFIRMED = "confirmed", _("Confirmed")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("No-show")

    # These hold the dermatologist's and the room's time; the others free it.
    ACTIVE_STATUSES = ACTIVE_STATUSES

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("patient")
    )
    dermatologist = models.ForeignKey(
        StaffMember,
        on_delete=models.PROTECT,
        related_name="appointments",
        limit_choices_to={"role": StaffMember.Role.DERMATOLOGIST},
        verbose_name=_("dermatologist"),
    )
    room = models.ForeignKey(
        Room,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("room"),
    )
    procedure_type = models.ForeignKey(
        ProcedureType,
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("procedure type"),
    )
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.BOOKED, verbose_name=_("status")
    )
    reason = models.CharField(
        max_length=200, blank=True, help_text=_("Reason for the visit"), verbose_name=_("reason")
    )
    cancellation_reason = models.CharField(
        max_length=200, blank=True, verbose_name=_("cancellation reason")
    )
    # The record's id in the system the clinic moved from (the CSV import, docs/import.md):
    # re-importing a file finds the rows it already made. Empty for the clinic's own.
    external_id = models.CharField(
        _("external ID"), max_length=64, null=True, blank=True, unique=True, editable=False
    )
    # The calendar file's SEQUENCE: one more on every move, cancellation and reinstatement,
    # so a calendar app replaces the entry it holds rather than keeping the old time.
    # Scale seeds COPY rows without naming it: a default in the database too.
    sequence = models.PositiveIntegerField(
        default=0, db_default=0, editable=False, verbose_name=_("sequence")
    )
    # How often the patient moved it themselves, through a link: SelfServicePolicy caps it.
    self_moves = models.PositiveSmallIntegerField(
        default=0, db_default=0, editable=False, verbose_name=_("moves by the patient")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
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
        BOOKED = "booked", _("Booked")
        RESCHEDULED = "rescheduled", _("Rescheduled")
        CONFIRMED = "confirmed", _("Confirmed")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("Marked no-show")
        REINSTATED = "reinstated", _("Reinstated")

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="events", verbose_name=_("appointment")
    )
    action = models.CharField(max_length=12, choices=Action.choices, verbose_name=_("action"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the patient acted through a link."),
        verbose_name=_("actor"),
    )
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("at"))
    note = models.CharField(max_length=300, blank=True, verbose_name=_("note"))

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["appointment", "at"], name="event_appointment_at_idx")]

    def __str__(self):
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"


class WaitlistEntry(models.Model):
    """A patient who wants an earlier slot; offered when a matching appointment is freed."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        BOOKED = "booked", _("Booked")
        REMOVED = "removed", _("Removed")

    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="waitlist_entries",
        verbose_name=_("patient"),
    )
    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.PROTECT, related_name="+", verbose_name=_("procedure type")
    )
    dermatologist = models.ForeignKey(
        StaffMember,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"role": StaffMember.Role.DERMATOLOGIST},
        help_text=_("Empty: any dermatologist"),
        verbose_name=_("dermatologist"),
    )
    earliest_date = models.DateField(verbose_name=_("earliest date"))
    latest_date = models.DateField(verbose_name=_("latest date"))
    earliest_time = models.TimeField(
        null=True, blank=True, help_text=_("Empty: from opening"), verbose_name=_("earliest time")
    )
    latest_time = models.TimeField(
        null=True, blank=True, help_text=_("Empty: until closing"), verbose_name=_("latest time")
    )
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.WAITING, verbose_name=_("status")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

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
# A claim form (CMS-1500, item 21) carries twelve diagnoses, A to L.
MAX_DIAGNOSES = 12
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
        DRAFT = "draft", _("Draft")
        SIGNED = "signed", _("Signed")

    class Instrument(models.TextChoices):
        COMEDONE_EXTRACTOR = "comedone_extractor", _("Comedone extractor")
        TWEEZERS = "tweezers", _("Fine tweezers")
        NEEDLE = "needle", _("Sterile needle")
        BLADE_11 = "blade_11", _("Blade no. 11")

    class CryoMethod(models.TextChoices):
        SPRAY = "spray", _("Spray")
        PROBE = "probe", _("Probe")
        COTTON_TIP = "cotton_tip", _("Cotton tip")

    class Anesthetic(models.TextChoices):
        NONE = "none", _("None")
        LIDOCAINE_1 = "lidocaine_1", _("Lidocaine 1%")
        LIDOCAINE_1_EPINEPHRINE = "lidocaine_1_epi", _("Lidocaine 1% with epinephrine")
        TOPICAL = "topical", _("Topical anesthetic cream")

    class Hemostasis(models.TextChoices):
        ELECTROCAUTERY = "electrocautery", _("Electrocautery")
        ALUMINIUM_CHLORIDE = "aluminium_chloride", _("Aluminium chloride")
        PRESSURE = "pressure", _("Pressure")

    class ConsentBy(models.TextChoices):
        PATIENT = "patient", _("Patient")
        GUARDIAN = "guardian", _("Guardian")

    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.PROTECT,
        related_name="procedure",
        verbose_name=_("appointment"),
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="procedures", verbose_name=_("patient")
    )
    dermatologist = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, related_name="+", verbose_name=_("dermatologist")
    )
    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.PROTECT, related_name="+", verbose_name=_("procedure type")
    )
    performed_at = models.DateTimeField(verbose_name=_("performed at"))
    lesions = models.ManyToManyField(
        Lesion, through="ProcedureLesion", related_name="procedures", verbose_name=_("lesions")
    )
    # Extraction, de-roofing
    instrument = models.CharField(
        max_length=20, choices=Instrument.choices, blank=True, verbose_name=_("instrument")
    )
    needle_gauge = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("needle gauge")
    )
    lesions_cleared = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("lesions cleared")
    )
    # Cryotherapy
    cryo_method = models.CharField(
        max_length=12, choices=CryoMethod.choices, blank=True, verbose_name=_("cryo method")
    )
    freeze_seconds = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("freeze seconds")
    )
    freeze_thaw_cycles = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("freeze thaw cycles")
    )
    halo_mm = models.DecimalField(
        max_digits=3, decimal_places=1, null=True, blank=True, verbose_name=_("halo mm")
    )
    # Curettage, electrodesiccation
    anesthetic = models.CharField(
        max_length=20, choices=Anesthetic.choices, blank=True, verbose_name=_("anesthetic")
    )
    anesthetic_volume_ml = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        verbose_name=_("anesthetic volume ml"),
    )
    hemostasis = models.CharField(
        max_length=20, choices=Hemostasis.choices, blank=True, verbose_name=_("hemostasis")
    )
    # Every procedure
    consent_obtained = models.BooleanField(default=False, verbose_name=_("consent obtained"))
    consent_given_by = models.CharField(
        max_length=8, choices=ConsentBy.choices, blank=True, verbose_name=_("consent given by")
    )
    consent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("consent at"))
    complication_bleeding = models.BooleanField(
        default=False, verbose_name=_("complication bleeding")
    )
    complication_blistering = models.BooleanField(
        default=False, verbose_name=_("complication blistering")
    )
    complication_pain = models.BooleanField(default=False, verbose_name=_("complication pain"))
    complication_note = models.CharField(
        max_length=300, blank=True, verbose_name=_("complication note")
    )
    note = models.TextField(blank=True, verbose_name=_("note"))
    diagnosis_code = models.CharField(
        max_length=10, default=DIAGNOSIS_MILIA, verbose_name=_("diagnosis code")
    )
    procedure_code = models.CharField(
        max_length=10, blank=True, validators=[cpt_code_validator], verbose_name=_("procedure code")
    )
    procedure_code_overridden = models.BooleanField(
        default=False, verbose_name=_("procedure code overridden")
    )
    # The principal diagnosis, a billable ICD-10-CM code; the others follow it in order
    # (a claim carries at most MAX_DIAGNOSES). `diagnosis_codes` reads them all in order.
    # A default in the database too, for bulk loads that name their columns (seed_scale).
    secondary_diagnosis_codes = models.JSONField(
        default=list, db_default=[], blank=True, verbose_name=_("secondary ICD-10-CM codes")
    )
    # Written by another dermatologist (created_by) for the visit's dermatologist, who
    # stays the record's dermatologist and signs it. A default in the database too, so
    # that bulk loads naming their columns (seed_scale's COPY) need not know of it.
    recorded_on_behalf = models.BooleanField(
        default=False,
        db_default=False,
        help_text=_("Recorded by another dermatologist (created by) for the visit's dermatologist"),
        verbose_name=_("recorded on behalf"),
    )
    aftercare_text = models.TextField(
        blank=True, help_text=_("As given to the patient"), verbose_name=_("aftercare text")
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status")
    )
    signed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("signed at"))
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed by"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
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
    def diagnosis_codes(self) -> list[str]:
        """Every diagnosis of the record in order, the principal one first."""
        return [self.diagnosis_code, *self.secondary_diagnosis_codes]

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED


class ProcedureLesion(models.Model):
    procedure = models.ForeignKey(
        Procedure, on_delete=models.CASCADE, related_name="+", verbose_name=_("procedure")
    )
    lesion = models.ForeignKey(
        Lesion, on_delete=models.PROTECT, related_name="+", verbose_name=_("lesion")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["procedure", "lesion"], name="procedure_lesion_once"),
        ]

    def __str__(self):
        return f"{self.lesion} in {self.procedure}"


class Amendment(models.Model):
    """A correction of a signed procedure record, kept beside the original, never instead."""

    procedure = models.ForeignKey(
        Procedure, on_delete=models.PROTECT, related_name="amendments", verbose_name=_("procedure")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    reason = models.CharField(max_length=300, verbose_name=_("reason"))
    text = models.TextField(
        help_text=_("The correction, as it should read"), verbose_name=_("text")
    )
    # Codes the amendment corrects (empty: unchanged); the record's charge lines follow them.
    procedure_code = models.CharField(
        _("CPT code"),
        max_length=10,
        blank=True,
        default="",
        db_default="",
        validators=[cpt_code_validator],
    )
    diagnosis_code = models.CharField(
        _("ICD-10-CM code"), max_length=10, blank=True, default="", db_default=""
    )
    history = HistoricalRecords()
    # The user the next history row names; services set it before save() (django-simple-history).
    _history_user: "User | None"

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason="") & ~Q(text=""), name="amendment_has_reason_and_text"
            ),
            models.CheckConstraint(
                condition=Q(procedure_code="") | Q(procedure_code__regex=CPT_CODE_PATTERN),
                name="amendment_code_is_cpt",
            ),
        ]

    def __str__(self):
        return f"Amendment of {self.procedure} at {self.created_at:%Y-%m-%d %H:%M}"


class FollowUp(models.Model):
    """A check the patient should come back for: recurrence after a procedure, or a recheck."""

    class Kind(models.TextChoices):
        RECURRENCE_CHECK = "recurrence_check", _("Recurrence check")
        RECHECK = "recheck", _("Recheck")

    class Status(models.TextChoices):
        OPEN = "open", _("Due")
        BOOKED = "booked", _("Booked")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="follow_ups", verbose_name=_("patient")
    )
    procedure = models.ForeignKey(
        Procedure,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("procedure"),
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    due_on = models.DateField(verbose_name=_("due on"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, verbose_name=_("status")
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("appointment"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    booking_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the patient asked (through a link) to book it"),
        verbose_name=_("booking requested at"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
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
        RESOLVED = "resolved", _("Resolved")
        PARTLY_RESOLVED = "partly_resolved", _("Partly resolved")
        RECURRED = "recurred", _("Recurred")
        NEW_NEARBY = "new_nearby", _("New lesions nearby")
        COMPLICATION = "complication", _("Complication")

    class Complication(models.TextChoices):
        HYPOPIGMENTATION = "hypopigmentation", _("Hypopigmentation")
        SCARRING = "scarring", _("Scarring")
        INFECTION = "infection", _("Infection")

    follow_up = models.ForeignKey(
        FollowUp, on_delete=models.CASCADE, related_name="outcomes", verbose_name=_("follow up")
    )
    lesion = models.ForeignKey(
        Lesion, on_delete=models.PROTECT, related_name="outcomes", verbose_name=_("lesion")
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, verbose_name=_("outcome"))
    complication = models.CharField(
        max_length=16, choices=Complication.choices, blank=True, verbose_name=_("complication")
    )
    note = models.CharField(max_length=300, blank=True, verbose_name=_("note"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("recorded at"))
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

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="photos", verbose_name=_("patient")
    )
    lesion = models.ForeignKey(
        Lesion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="photos",
        verbose_name=_("lesion"),
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="photos",
        verbose_name=_("appointment"),
    )
    image = models.FileField(
        storage=private_photo_storage, upload_to=photo_path, verbose_name=_("image")
    )
    thumbnail = models.FileField(
        storage=private_photo_storage, upload_to=photo_path, verbose_name=_("thumbnail")
    )
    content_type = models.CharField(max_length=20, verbose_name=_("content type"))
    width = models.PositiveIntegerField(verbose_name=_("width"))
    height = models.PositiveIntegerField(verbose_name=_("height"))
    caption = models.CharField(max_length=200, blank=True, verbose_name=_("caption"))
    taken_on = models.DateField(verbose_name=_("taken on"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("uploaded at"))
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


class SelfServicePolicy(models.Model):
    """What patients may do to a visit themselves, through the links in their reminders:
    one row for the whole clinic, written with the defaults by its migration (the manager
    edits it in the admin).

    Clinic-wide rather than per procedure type: the clinic states one rule at the desk and
    on the phone, and a move always keeps the visit's procedure type anyway (only its time,
    and perhaps its dermatologist, change), so procedure visits move only to the same type.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(
        primary_key=True, default=SINGLETON_ID, editable=False, verbose_name=_("ID")
    )
    patients_may_reschedule = models.BooleanField(
        default=True,
        help_text=_("Offer “Move my visit” on the visit page of every reminder."),
        verbose_name=_("patients may reschedule"),
    )
    cutoff_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text=_(
            "No moving or cancelling online within this many hours of the visit; the "
            "page gives the clinic's phone instead."
        ),
        verbose_name=_("cutoff hours"),
    )
    days_ahead = models.PositiveSmallIntegerField(
        default=90,
        help_text=_("How far ahead of today a visit may be moved, in days."),
        verbose_name=_("days ahead"),
    )
    moves_per_visit = models.PositiveSmallIntegerField(
        default=2,
        help_text=_("How many times a patient may move one visit online."),
        verbose_name=_("moves per visit"),
    )
    same_dermatologist = models.BooleanField(
        default=False,
        help_text=_("Only to a time with the same dermatologist; otherwise with any of them."),
        verbose_name=_("same dermatologist"),
    )

    class Meta:
        verbose_name = "self-service policy"
        verbose_name_plural = "self-service policy"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="self_service_policy_singleton"),
            models.CheckConstraint(
                condition=Q(days_ahead__gte=1), name="self_service_policy_days_ahead_positive"
            ),
        ]

    def __str__(self):
        return "Self-service policy"

    @classmethod
    def current(cls) -> "SelfServicePolicy":
        """The clinic's policy: the stored row, or the defaults should it be missing."""
        return cls.objects.filter(pk=cls.SINGLETON_ID).first() or cls()


class PhotoCheck(models.Model):
    """A recurrence check done by photo: what the patient sent through the check's link,
    and the dermatologist's review. One per follow-up (the link works once)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Waiting for review")
        REVIEWED = "reviewed", _("Reviewed")

    class NewBumps(models.TextChoices):
        NO = "no", _("No")
        YES = "yes", _("Yes")
        NOT_SURE = "not_sure", _("Not sure")

    class Result(models.TextChoices):
        RESOLVED = "resolved", _("Resolved: follow-up closed")
        RECURRED = "recurred", _("Recurred: invited to book")
        NEEDS_VISIT = "needs_visit", _("Needs a visit: invited to book")

    follow_up = models.OneToOneField(
        FollowUp, on_delete=models.PROTECT, related_name="photo_check", verbose_name=_("follow up")
    )
    # The follow-up's patient, kept here for the queue and the access log.
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="photo_checks", verbose_name=_("patient")
    )
    submitted_at = models.DateTimeField(verbose_name=_("submitted at"))
    new_bumps = models.CharField(
        max_length=8, choices=NewBumps.choices, verbose_name=_("new bumps")
    )
    where = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("Where, in the patient's words"),
        verbose_name=_("where on the body"),
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.SUBMITTED, verbose_name=_("status")
    )
    result = models.CharField(
        max_length=12, choices=Result.choices, blank=True, verbose_name=_("result")
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))

    class Meta:
        ordering = ["submitted_at", "id"]
        indexes = [
            models.Index(
                fields=["submitted_at"],
                condition=Q(status="submitted"),
                name="photo_check_waiting_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["submitted", "reviewed"]), name="photo_check_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(new_bumps__in=["no", "yes", "not_sure"]),
                name="photo_check_new_bumps_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="submitted", reviewed_at__isnull=True, result="")
                    | (
                        Q(status="reviewed", reviewed_at__isnull=False, reviewed_by__isnull=False)
                        & ~Q(result="")
                    )
                ),
                name="photo_check_reviewed_by_someone",
            ),
        ]

    def __str__(self):
        return f"Photo check of follow-up {self.follow_up_id}, {self.submitted_at:%Y-%m-%d}"


def photo_check_path(image, filename: str) -> str:
    return f"photo-checks/{image.photo_check_id}/{filename}"


class PhotoCheckImage(models.Model):
    """A photo a patient sent for a photo check: cleaned as staff photos are
    (treatments/services/photos.py), stored beside them, served only to clinical readers."""

    photo_check = models.ForeignKey(
        PhotoCheck, on_delete=models.CASCADE, related_name="images", verbose_name=_("photo check")
    )
    image = models.FileField(
        storage=private_photo_storage, upload_to=photo_check_path, verbose_name=_("image")
    )
    thumbnail = models.FileField(
        storage=private_photo_storage, upload_to=photo_check_path, verbose_name=_("thumbnail")
    )
    content_type = models.CharField(max_length=20, verbose_name=_("content type"))
    width = models.PositiveIntegerField(verbose_name=_("width"))
    height = models.PositiveIntegerField(verbose_name=_("height"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=["image/jpeg", "image/png"]),
                name="photo_check_image_jpeg_or_png",
            ),
        ]

    def __str__(self):
        return f"Image {self.pk} of {self.photo_check}"


# --- Billing -------------------------------------------------------------------------
# The money side of a visit (docs/billing.md): the fee schedule, the estimate stored at
# booking, charge lines written when a record is signed, payments and refunds taken at
# the desk, and invoices that freeze what they cover. Money is Decimal to the cent in the
# clinic's one currency (settings.CLINIC_CURRENCY); a tax rate is a percentage.

MAX_TAX_RATE_PERCENT = 30
# A CPT modifier is two letters or digits (25, 59, XS); a line carries a few, comma-separated.
MODIFIERS_PATTERN = r"\A([0-9A-Z]{2})(,[0-9A-Z]{2}){0,3}\Z"
modifiers_validator = RegexValidator(
    MODIFIERS_PATTERN, "Modifiers are two characters each, comma-separated (25, 59).", "modifiers"
)


class FeeScheduleEntry(models.Model):
    """The clinic's price for a procedure type (a visit's estimate) or for a CPT code (a
    charge line), from one day to another. A new price is a new entry from a later day,
    so charges and invoices made before keep theirs. Prices exclude tax; `tax_rate` is
    the percentage the clinic adds (0 where the service is not taxed)."""

    procedure_type = models.ForeignKey(
        ProcedureType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fee_entries",
        help_text=_("For the estimate of a visit of this type; or give a CPT code instead."),
        verbose_name=_("procedure type"),
    )
    cpt_code = models.CharField(
        _("CPT code"),
        max_length=5,
        blank=True,
        validators=[cpt_code_validator],
        help_text=_("For the charge lines of this code; or give a procedure type instead."),
    )
    description = models.CharField(max_length=200, verbose_name=_("description"))
    self_pay_price = models.DecimalField(
        max_digits=10, decimal_places=2, verbose_name=_("self pay price")
    )
    insured_price = models.DecimalField(
        max_digits=10, decimal_places=2, verbose_name=_("insured price")
    )
    tax_rate = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("Percent added to the price, e.g. 8.875"),
        verbose_name=_("tax rate"),
    )
    effective_from = models.DateField(verbose_name=_("effective from"))
    effective_to = models.DateField(
        null=True,
        blank=True,
        help_text=_("The last day of this price; empty: until changed"),
        verbose_name=_("effective to"),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "fee schedule entries"
        ordering = ["procedure_type", "cpt_code", "effective_from"]
        indexes = [
            models.Index(fields=["cpt_code", "effective_from"], name="fee_cpt_from_idx"),
            models.Index(fields=["procedure_type", "effective_from"], name="fee_type_from_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(procedure_type__isnull=False) & Q(cpt_code=""))
                | (Q(procedure_type__isnull=True) & ~Q(cpt_code="")),
                name="fee_entry_one_key",
                violation_error_message="Give either a procedure type or a CPT code.",
            ),
            models.CheckConstraint(
                condition=Q(cpt_code="") | Q(cpt_code__regex=CPT_CODE_PATTERN),
                name="fee_entry_code_is_cpt",
            ),
            models.CheckConstraint(
                condition=Q(self_pay_price__gte=0) & Q(insured_price__gte=0),
                name="fee_entry_prices_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=MAX_TAX_RATE_PERCENT),
                name="fee_entry_tax_rate_range",
                violation_error_message=f"A tax rate is from 0 to {MAX_TAX_RATE_PERCENT} percent.",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="fee_entry_dates_in_order",
                violation_error_message="The last day comes on or after the first.",
            ),
            fee_periods_do_not_overlap(FEE_TYPE_OVERLAP, "procedure_type"),
            fee_periods_do_not_overlap(FEE_CODE_OVERLAP, "cpt_code"),
        ]

    def __str__(self):
        key = self.procedure_type or self.cpt_code
        return f"{key} from {self.effective_from}"

    def price_for(self, payer: str) -> Decimal:
        """The price (before tax) for a patient with this payer (Patient.Payer)."""
        return self.insured_price if payer == Patient.Payer.INSURANCE else self.self_pay_price


class AppointmentEstimate(models.Model):
    """The self-pay estimate of a visit, at the fee schedule's price on the day it was
    booked: what the desk told the patient. Written with the booking; a price change
    later does not change it."""

    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.CASCADE,
        related_name="estimate",
        verbose_name=_("appointment"),
    )
    fee_entry = models.ForeignKey(
        FeeScheduleEntry, on_delete=models.PROTECT, related_name="+", verbose_name=_("fee entry")
    )
    price = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("price"))
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, verbose_name=_("tax rate"))
    tax_amount = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("tax amount"))
    total = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("total"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    priced_on = models.DateField(
        help_text=_("The day whose price this is"), verbose_name=_("priced on")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0) & Q(tax_amount__gte=0) & Q(total__gte=0),
                name="estimate_amounts_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.total} {self.currency} for appointment {self.appointment_id}"


class BillingSequence(models.Model):
    """The last number given out of a document series (invoices, receipts): the row is
    locked by the transaction that issues the next number, so numbers are unique and
    follow each other without gaps."""

    name = models.CharField(max_length=20, primary_key=True, verbose_name=_("name"))
    last_number = models.PositiveIntegerField(default=0, verbose_name=_("last number"))

    def __str__(self):
        return f"{self.name}: {self.last_number}"


class Invoice(models.Model):
    """A patient's invoice: a sequential number, and the charge lines it covers, with the
    totals frozen when it was issued (a later price change or void leaves it as issued)."""

    number = models.CharField(max_length=20, unique=True, editable=False, verbose_name=_("number"))
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("patient")
    )
    issued_at = models.DateTimeField(verbose_name=_("issued at"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("issued by"),
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    subtotal = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("subtotal"))
    tax_total = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("tax total"))
    total = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("total"))

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["patient", "issued_at"], name="invoice_patient_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(tax_total__gte=0) & Q(total__gte=0),
                name="invoice_totals_not_negative",
            ),
        ]

    def __str__(self):
        return self.number


class ChargeQuerySet(models.QuerySet["Charge"]):
    def active(self) -> "ChargeQuerySet":
        """Lines that count towards the balance: not voided."""
        return self.filter(status=Charge.Status.ACTIVE)


class Charge(models.Model):
    """One line of what a patient owes: a CPT code with units and modifiers at the fee
    schedule's price on the date of service, written when a record is signed. Never
    edited: a correction voids the line (who, when, why) and a new line `replaces` it."""

    class Kind(models.TextChoices):
        PROCEDURE = "procedure", _("Procedure")
        EVALUATION = "evaluation", _("Evaluation and management visit")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        VOIDED = "voided", _("Voided")

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="charges", verbose_name=_("patient")
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, related_name="charges", verbose_name=_("appointment")
    )
    procedure = models.ForeignKey(
        Procedure,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="charges",
        help_text=_("The signed record the line comes from"),
        verbose_name=_("procedure"),
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, verbose_name=_("kind"))
    service_date = models.DateField(
        help_text=_("Date of service, in the clinic's time zone"), verbose_name=_("service date")
    )
    cpt_code = models.CharField(_("CPT code"), max_length=5, validators=[cpt_code_validator])
    modifiers = models.CharField(
        max_length=11,
        blank=True,
        validators=[modifiers_validator],
        help_text=_("e.g. 25"),
        verbose_name=_("modifiers"),
    )
    description = models.CharField(max_length=200, verbose_name=_("description"))
    units = models.PositiveSmallIntegerField(default=1, verbose_name=_("units"))
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("unit price"))
    tax_rate = models.DecimalField(
        max_digits=6, decimal_places=3, default=Decimal("0"), verbose_name=_("tax rate")
    )
    tax_amount = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("tax amount"))
    total = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text=_("Units × unit price, plus tax"),
        verbose_name=_("total"),
    )
    payer = models.CharField(
        max_length=10,
        choices=Patient.Payer.choices,
        help_text=_("The patient's payer then"),
        verbose_name=_("payer"),
    )
    fee_entry = models.ForeignKey(
        FeeScheduleEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("fee entry"),
    )
    price_missing = models.BooleanField(
        default=False,
        help_text=_("The fee schedule had no price for the code that day"),
        verbose_name=_("price missing"),
    )
    # ICD-10-CM codes in order, the record's chosen diagnosis first.
    diagnosis_codes = models.JSONField(default=list, verbose_name=_("diagnosis codes"))
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("voided by"),
    )
    voided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("voided at"))
    void_reason = models.CharField(max_length=200, blank=True, verbose_name=_("void reason"))
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        help_text=_("The voided line this one corrects"),
        verbose_name=_("replaces"),
    )
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="charges",
        verbose_name=_("invoice"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    objects = ChargeQuerySet.as_manager()

    class Meta:
        ordering = ["service_date", "created_at", "id"]
        indexes = [
            models.Index(fields=["patient", "service_date"], name="charge_patient_day_idx"),
            models.Index(
                fields=["price_missing"],
                condition=Q(price_missing=True),
                name="charge_unpriced_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["procedure", "evaluation"]), name="charge_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "voided"]), name="charge_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(payer__in=["self_pay", "insurance"]), name="charge_payer_valid"
            ),
            models.CheckConstraint(condition=Q(units__gte=1), name="charge_units_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(tax_amount__gte=0) & Q(total__gte=0),
                name="charge_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=MAX_TAX_RATE_PERCENT),
                name="charge_tax_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(cpt_code__regex=CPT_CODE_PATTERN), name="charge_code_is_cpt"
            ),
            models.CheckConstraint(
                condition=Q(modifiers="") | Q(modifiers__regex=MODIFIERS_PATTERN),
                name="charge_modifiers_valid",
            ),
            models.CheckConstraint(
                condition=Q(price_missing=False) | (Q(unit_price=0) & Q(fee_entry__isnull=True)),
                name="charge_unpriced_has_no_price",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="active")
                    & Q(voided_by__isnull=True)
                    & Q(voided_at__isnull=True)
                    & Q(void_reason="")
                )
                | (
                    Q(status="voided")
                    & Q(voided_by__isnull=False)
                    & Q(voided_at__isnull=False)
                    & ~Q(void_reason="")
                ),
                name="charge_void_has_who_when_why",
            ),
            # A signed record has one active line of each kind: signing twice at once,
            # or an amendment racing another, cannot bill it twice.
            models.UniqueConstraint(
                fields=["procedure", "kind"],
                condition=Q(status="active") & Q(procedure__isnull=False),
                name="charge_active_once_per_record",
            ),
        ]

    def __str__(self):
        modifiers = f"-{self.modifiers}" if self.modifiers else ""
        return f"{self.cpt_code}{modifiers} × {self.units} on {self.service_date}"

    @property
    def net_amount(self) -> Decimal:
        """Units × unit price, before tax."""
        return self.units * self.unit_price

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class PaymentQuerySet(models.QuerySet["Payment"]):
    def payments(self) -> "PaymentQuerySet":
        return self.filter(kind=Payment.Kind.PAYMENT)

    def refunds(self) -> "PaymentQuerySet":
        return self.filter(kind=Payment.Kind.REFUND)


class Payment(models.Model):
    """Money received from (PAYMENT) or given back to (REFUND) a patient at the desk.
    Never edited: a mistake is corrected by a refund with its reason."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund")

    class Method(models.TextChoices):
        CASH = "cash", _("Cash")
        CARD = "card", _("Card")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")

    receipt_number = models.CharField(
        max_length=20, unique=True, editable=False, verbose_name=_("receipt number")
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="payments", verbose_name=_("patient")
    )
    kind = models.CharField(
        max_length=8, choices=Kind.choices, default=Kind.PAYMENT, verbose_name=_("kind")
    )
    amount = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text=_("Always positive; a refund's kind says so"),
        verbose_name=_("amount"),
    )
    method = models.CharField(max_length=14, choices=Method.choices, verbose_name=_("method"))
    reference = models.CharField(
        max_length=100,
        blank=True,
        help_text=_("The card terminal's or the bank transfer's"),
        verbose_name=_("reference"),
    )
    reason = models.CharField(
        max_length=200, blank=True, help_text=_("Why, for a refund"), verbose_name=_("reason")
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("appointment"),
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("received by"),
    )
    received_at = models.DateTimeField(default=timezone.now, verbose_name=_("received at"))

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(fields=["patient", "received_at"], name="payment_patient_idx"),
            models.Index(fields=["received_at"], name="payment_received_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=["payment", "refund"]), name="payment_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(method__in=["cash", "card", "bank_transfer"]),
                name="payment_method_valid",
            ),
            models.CheckConstraint(
                condition=Q(method="cash") | ~Q(reference=""),
                name="payment_card_or_transfer_has_reference",
                violation_error_message="A card or bank transfer needs its reference.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="refund") | ~Q(reason=""),
                name="payment_refund_has_reason",
                violation_error_message="A refund needs a reason.",
            ),
        ]

    def __str__(self):
        return f"{self.receipt_number}: {self.get_kind_display()} {self.amount}"

    @property
    def net_received(self) -> Decimal:
        """The amount for a payment, minus the amount for a refund."""
        return -self.amount if self.kind == self.Kind.REFUND else self.amount


class BillingEmail(models.Model):
    """A billing document emailed at the desk's request to the patient, or to the
    guardian who receives a minor's messages: who asked, to whom, and whether it went.
    The PDF is made when it is sent (treatments.tasks.billing_email_send); the email's
    body names no diagnosis, procedure or code."""

    class Document(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        RECEIPT = "receipt", _("Receipt")
        SUPERBILL = "superbill", _("Superbill")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="billing_emails", verbose_name=_("patient")
    )
    document = models.CharField(max_length=10, choices=Document.choices, verbose_name=_("document"))
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invoice"),
    )
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment"),
    )
    service_date = models.DateField(
        null=True, blank=True, help_text=_("A superbill's day"), verbose_name=_("service date")
    )
    email = models.EmailField(verbose_name=_("email"))
    recipient_name = models.CharField(max_length=201, verbose_name=_("recipient name"))
    language = models.CharField(max_length=8, verbose_name=_("language"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(default=timezone.now, verbose_name=_("requested at"))
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(document="invoice", invoice__isnull=False)
                    & Q(payment__isnull=True, service_date__isnull=True)
                )
                | (
                    Q(document="receipt", payment__isnull=False)
                    & Q(invoice__isnull=True, service_date__isnull=True)
                )
                | (
                    Q(document="superbill", service_date__isnull=False)
                    & Q(invoice__isnull=True, payment__isnull=True)
                ),
                name="billing_email_names_its_document",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]),
                name="billing_email_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False)
                | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="billing_email_sent_has_when",
            ),
        ]

    def __str__(self):
        return f"{self.get_document_display()} to {self.email} ({self.status})"
