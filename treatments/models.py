"""The procedure catalogue and appointments: booking a treatment with a dermatologist."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clinic.models import Room, StaffMember
from patients.models import Patient

from .constraints import ACTIVE_STATUSES, DERMATOLOGIST_OVERLAP, ROOM_OVERLAP, no_overlap


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
    aftercare_text = models.TextField(blank=True)
    follow_up_weeks = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Recurrence check this many weeks later; empty for none"
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
    cancellation_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
