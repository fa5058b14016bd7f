"""The clinic itself: its staff, rooms, working hours and time off, beat's heartbeat, and
the reminder outbox with its templates."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.template import Template, TemplateSyntaxError
from phonenumber_field.modelfields import PhoneNumberField

from patients.models import E164, Channel, Patient


class StaffMemberQuerySet(models.QuerySet["StaffMember"]):
    def dermatologists(self) -> "StaffMemberQuerySet":
        """Every dermatologist, still working here or not (past visits keep theirs)."""
        return self.filter(role=StaffMember.Role.DERMATOLOGIST)

    def bookable(self) -> "StaffMemberQuerySet":
        """The dermatologists a visit can be booked with: the active ones."""
        return self.dermatologists().filter(is_active=True)


class StaffMember(models.Model):
    """A person who works at the clinic; their role decides what they may see and do."""

    class Role(models.TextChoices):
        DERMATOLOGIST = "dermatologist", "Dermatologist"
        RECEPTIONIST = "receptionist", "Receptionist"
        MANAGER = "manager", "Clinic manager"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_member"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    title = models.CharField(max_length=20, blank=True, help_text="Shown before the name, e.g. Dr.")
    language = models.CharField(
        max_length=8,
        choices=settings.STAFF_LANGUAGES,
        blank=True,
        help_text="The language of their pages; empty: the clinic's.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive staff cannot be booked.")

    objects = StaffMemberQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["dermatologist", "receptionist", "manager"]),
                name="staff_role_valid",
            ),
        ]

    def __str__(self):
        name = self.user.get_full_name() or self.user.get_username()
        return f"{self.title} {name}".strip()


class Room(models.Model):
    class Kind(models.TextChoices):
        TREATMENT = "treatment", "Treatment room"
        CONSULTATION = "consultation", "Consultation room"

    name = models.CharField(max_length=60, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TREATMENT)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["treatment", "consultation"]), name="room_kind_valid"
            ),
        ]

    def __str__(self):
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """A block of a weekday when a staff member works, in the clinic's local time.

    Local wall-clock times, not instants: 09:00 stays 09:00 across a daylight-saving change.
    Several blocks per weekday make a split shift (a lunch break is the gap between them).
    """

    staff_member = models.ForeignKey(
        StaffMember, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    class Meta:
        verbose_name_plural = "working hours"
        ordering = ["staff_member", "weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="hours_end_after_start"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="hours_weekday_valid"),
            models.UniqueConstraint(
                fields=["staff_member", "weekday", "starts_at"], name="hours_unique_start"
            ),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"


class TimeOff(models.Model):
    """Leave, a conference, a sick day: no bookings for this staff member in this span."""

    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="time_off")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "time off"
        ordering = ["-starts_at"]
        indexes = [
            models.Index(fields=["staff_member", "starts_at"], name="timeoff_staff_start_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="timeoff_end_after_start"
            ),
        ]

    def __str__(self):
        return (
            f"{self.staff_member}: {self.starts_at:%Y-%m-%d %H:%M} – {self.ends_at:%Y-%m-%d %H:%M}"
        )


class ChannelHealth(models.Model):
    """How a delivery channel (email, SMS) fared lately, written once per batch by the
    sweep; /healthz reports a channel whose last attempts all failed.

    Only failures the channel itself is to blame for count (refused, timed out, 5xx);
    an address the provider rejects is the recipient's problem, not an outage.
    """

    channel = models.CharField(max_length=5, choices=Channel.choices, primary_key=True)
    failures_in_a_row = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "channel health"

    def __str__(self):
        return f"{self.get_channel_display()}: {self.failures_in_a_row} failures in a row"


class Heartbeat(models.Model):
    """When a periodic job last ran, by name; /healthz reads the beat heartbeat."""

    name = models.CharField(max_length=50, primary_key=True)
    last_seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.last_seen_at:%Y-%m-%d %H:%M:%S}"


class UsedPatientLink(models.Model):
    """A patient link whose action was carried out: the link cannot be used again."""

    nonce = models.CharField(max_length=32, unique=True)
    action = models.CharField(max_length=20)
    subject_id = models.BigIntegerField()
    used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.action} {self.subject_id} at {self.used_at:%Y-%m-%d %H:%M}"


class Reminder(models.Model):
    """One message to a patient or guardian: the outbox row that a sweep delivers.

    Written in the same transaction as what caused it (a booking, a signed procedure), so
    a rolled-back booking leaves no reminder. It names its source by a stable key
    ("appointment:42"), never by a foreign key: the outbox knows a recipient and a
    message, not the clinic's records.
    """

    class Kind(models.TextChoices):
        APPOINTMENT = "appointment", "Appointment"
        AFTERCARE = "aftercare", "Aftercare"
        RECURRENCE_CHECK = "recurrence_check", "Recurrence check"
        WAITLIST_OFFER = "waitlist_offer", "Waitlist offer"
        CONFIRMATION = "confirmation", "Booking confirmation"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminders")
    recipient_name = models.CharField(max_length=200)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True)
    language = models.CharField(max_length=8, default="en")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    send_at = models.DateTimeField(help_text="When it is planned to go out")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a sweep may take it next (pending only)"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=200, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was given up on (failed only)"
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    source_key = models.CharField(max_length=100, db_index=True)
    context = models.JSONField(
        default=dict, blank=True, help_text="Values for the template: times, names, link specs"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-send_at", "-id"]
        indexes = [
            # The sweep's question: which pending reminders are due?
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="reminder_pending_due_idx",
            ),
            # Reclaiming rows a dead worker left in sending.
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="reminder_sending_idx"
            ),
            # /healthz: how many were given up on in the last hour?
            models.Index(
                fields=["failed_at"], condition=Q(status="failed"), name="reminder_failed_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["pending", "sending", "sent", "failed", "cancelled", "skipped"]
                ),
                name="reminder_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "appointment",
                        "aftercare",
                        "recurrence_check",
                        "waitlist_offer",
                        "confirmation",
                    ]
                ),
                name="reminder_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms"]), name="reminder_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=E164), name="reminder_phone_e164"
            ),
            # Only a row that may still go out needs an address to send it to.
            models.CheckConstraint(
                condition=Q(status__in=["skipped", "cancelled"])
                | (Q(channel="email") & ~Q(email=""))
                | (Q(channel="sms") & ~Q(phone="")),
                name="reminder_has_address",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="reminder_pending_has_next_attempt",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(claimed_at__isnull=False),
                name="reminder_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="reminder_sent_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="skipped") | ~Q(skip_reason=""),
                name="reminder_skipped_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.get_channel_display()} to {self.recipient_name}"

    @property
    def address(self) -> str:
        return self.email if self.channel == Channel.EMAIL else str(self.phone)


class ReminderTemplate(models.Model):
    """The words of one kind of reminder on one channel in one language (Django template
    syntax). The clinic manager edits them in the admin; a missing language falls back
    to the clinic's default language (LANGUAGE_CODE), then to English. SMS texts carry
    the minimum: no diagnosis, no procedure, no lesion."""

    kind = models.CharField(max_length=20, choices=Reminder.Kind.choices)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    language = models.CharField(max_length=8, choices=settings.PATIENT_LANGUAGES, default="en")
    subject = models.CharField(max_length=200, blank=True, help_text="Email only")
    body_text = models.TextField(help_text="Plain text; the whole message for an SMS")
    body_html = models.TextField(blank=True, help_text="Email only: an HTML version")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "channel", "language"], name="reminder_template_once"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "appointment",
                        "aftercare",
                        "recurrence_check",
                        "waitlist_offer",
                        "confirmation",
                    ]
                ),
                name="reminder_template_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms"]), name="reminder_template_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel="sms") | ~Q(subject=""), name="reminder_template_email_subject"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.get_channel_display()} · {self.language}"

    def clean(self):
        # A template that does not compile would fail every send: refuse it when saved.
        for field in ("subject", "body_text", "body_html"):
            try:
                Template(getattr(self, field))
            except TemplateSyntaxError as error:
                raise ValidationError({field: f"Not a valid template: {error}"}) from None


class AccessLog(models.Model):
    """One look at health data: who opened which patient's chart, photo, record or handout,
    or exported records, when, from where. Written by `clinic.audit`, read by the manager
    in the admin; nobody adds, changes or deletes a row through the app."""

    class Action(models.TextChoices):
        CHART_VIEW = "chart_view", "Chart view"
        PHOTO_VIEW = "photo_view", "Photo view"
        RECORD_VIEW = "record_view", "Record view"
        HANDOUT_VIEW = "handout_view", "Handout view"
        EXPORT = "export", "Export"
        # A dermatologist's calendar feed fetched by their calendar app: no session, the
        # feed's secret URL is the key; the row names the feed's owner.
        CALENDAR_FEED = "calendar_feed", "Calendar feed fetch"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_log"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    # Empty for an export of many patients at once.
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="access_log"
    )
    path = models.CharField(max_length=500)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "at"], name="accesslog_patient_at_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    action__in=[
                        "chart_view",
                        "photo_view",
                        "record_view",
                        "handout_view",
                        "export",
                        "calendar_feed",
                    ]
                ),
                name="accesslog_action_valid",
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} by {self.user} at {self.at:%Y-%m-%d %H:%M}"


class InboundSms(models.Model):
    """A text a patient or guardian sent to the clinic's number, as the provider's webhook
    delivered it (clinic.sms_inbound). A keyword reply (confirm, stop, start) is acted on
    at once and needs nobody; anything else waits in the desk's inbox until someone marks
    it handled. One row per provider message: a webhook delivered twice is stored once."""

    class Provider(models.TextChoices):
        TWILIO = "twilio", "Twilio"
        VONAGE = "vonage", "Vonage"

    class Action(models.TextChoices):
        VISIT_CONFIRMED = "visit_confirmed", "Next visit confirmed"
        REMINDERS_STOPPED = "reminders_stopped", "Reminders stopped"
        REMINDERS_RESTARTED = "reminders_restarted", "Reminders restarted"
        NOTHING_TO_CHANGE = "nothing_to_change", "Nothing to change"
        FOR_THE_DESK = "for_the_desk", "Kept for the desk"

    provider = models.CharField(max_length=10, choices=Provider.choices)
    provider_message_id = models.CharField(max_length=64)
    # E.164 when the provider's number parses as a phone number, else as it came.
    sender = models.CharField(max_length=32)
    recipient = models.CharField(max_length=32, blank=True)
    body = models.TextField(blank=True)
    received_at = models.DateTimeField(db_index=True)
    # Set when exactly one patient is reached at the sender's number.
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_sms"
    )
    action = models.CharField(max_length=20, choices=Action.choices, default=Action.FOR_THE_DESK)
    note = models.CharField(max_length=200, blank=True, help_text="Why nothing was done")
    # A keyword reply is handled when it arrives (by nobody); the desk handles the rest.
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "inbound SMS"
        verbose_name_plural = "inbound SMS"
        ordering = ["-received_at", "-id"]
        indexes = [
            # The inbox's first question: what is still waiting for the desk?
            models.Index(
                fields=["received_at"],
                condition=Q(handled_at__isnull=True),
                name="inboundsms_unhandled_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"], name="inboundsms_once_per_message"
            ),
            models.CheckConstraint(
                condition=Q(provider__in=["twilio", "vonage"]), name="inboundsms_provider_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    action__in=[
                        "visit_confirmed",
                        "reminders_stopped",
                        "reminders_restarted",
                        "nothing_to_change",
                        "for_the_desk",
                    ]
                ),
                name="inboundsms_action_valid",
            ),
            models.CheckConstraint(
                condition=~Q(provider_message_id=""), name="inboundsms_has_message_id"
            ),
            models.CheckConstraint(
                condition=Q(handled_by__isnull=True) | Q(handled_at__isnull=False),
                name="inboundsms_handled_has_time",
            ),
        ]

    def __str__(self):
        return f"{self.get_provider_display()} SMS {self.pk} at {self.received_at:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """A dermatologist's subscription to their own schedule (`/calendar/<token>.ics`).

    Only the token's SHA-256 is kept: the URL is shown once, when it is made. Revoking
    deletes the row, so the old URL answers 404; a new one replaces it (one per person).
    """

    staff_member = models.OneToOneField(
        StaffMember, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    # A random 256-bit token needs no slow hash: nobody can guess their way to a match.
    token_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(token_sha256__regex=r"^[0-9a-f]{64}$"),
                name="calendarfeed_token_is_sha256",
            ),
        ]

    def __str__(self):
        return f"Calendar feed of {self.staff_member}"
