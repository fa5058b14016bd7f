"""The clinic itself: its staff, rooms, working hours and time off, beat's heartbeat, and
the reminder outbox with its templates."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.template import Template, TemplateSyntaxError
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from patients.models import E164, Channel, Patient

from .npi import NPI_PATTERN, npi_is_valid


def validate_npi(value: str) -> None:
    if not npi_is_valid(value):
        raise ValidationError(
            _("An NPI is ten digits with a valid check digit."), code="npi", params={"value": value}
        )


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
        DERMATOLOGIST = "dermatologist", _("Dermatologist")
        RECEPTIONIST = "receptionist", _("Receptionist")
        MANAGER = "manager", _("Clinic manager")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="staff_member",
        verbose_name=_("user"),
    )
    role = models.CharField(max_length=16, choices=Role.choices, verbose_name=_("role"))
    title = models.CharField(
        max_length=20,
        blank=True,
        help_text=_("Shown before the name, e.g. Dr."),
        verbose_name=_("title"),
    )
    language = models.CharField(
        max_length=8,
        choices=settings.STAFF_LANGUAGES,
        blank=True,
        help_text=_("The language of their pages; empty: the clinic's."),
        verbose_name=_("language"),
    )
    is_active = models.BooleanField(
        default=True, help_text=_("Inactive staff cannot be booked."), verbose_name=_("is active")
    )
    # On superbills and claims as the rendering provider. A default in the database too,
    # for bulk loads that name their columns (seed_scale).
    npi = models.CharField(
        _("NPI"),
        max_length=10,
        blank=True,
        default="",
        db_default="",
        validators=[validate_npi],
        help_text=_("National Provider Identifier (10 digits) of a dermatologist"),
    )

    objects = StaffMemberQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["dermatologist", "receptionist", "manager"]),
                name="staff_role_valid",
            ),
            models.CheckConstraint(
                condition=Q(npi="") | Q(npi__regex=NPI_PATTERN), name="staff_npi_ten_digits"
            ),
        ]

    def __str__(self):
        name = self.user.get_full_name() or self.user.get_username()
        return f"{self.title} {name}".strip()


class Room(models.Model):
    class Kind(models.TextChoices):
        TREATMENT = "treatment", _("Treatment room")
        CONSULTATION = "consultation", _("Consultation room")

    name = models.CharField(max_length=60, unique=True, verbose_name=_("name"))
    kind = models.CharField(
        max_length=12, choices=Kind.choices, default=Kind.TREATMENT, verbose_name=_("kind")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))

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
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WorkingHours(models.Model):
    """A block of a weekday when a staff member works, in the clinic's local time.

    Local wall-clock times, not instants: 09:00 stays 09:00 across a daylight-saving change.
    Several blocks per weekday make a split shift (a lunch break is the gap between them).
    """

    staff_member = models.ForeignKey(
        StaffMember,
        on_delete=models.CASCADE,
        related_name="working_hours",
        verbose_name=_("staff member"),
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, verbose_name=_("weekday"))
    starts_at = models.TimeField(verbose_name=_("starts at"))
    ends_at = models.TimeField(verbose_name=_("ends at"))

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

    staff_member = models.ForeignKey(
        StaffMember,
        on_delete=models.CASCADE,
        related_name="time_off",
        verbose_name=_("staff member"),
    )
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))

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


class ScheduleVersion(models.Model):
    """How often what the day and week schedules show has changed: a counter per clinic
    day, and one (`EVERY_DAY`) for changes that touch every day (hours, rooms, staff).

    clinic/schedule_version.py bumps it in each writing transaction and reads it to key
    the schedule pages' cache and ETags.
    """

    day = models.DateField(unique=True, verbose_name=_("day"))
    version = models.PositiveBigIntegerField(default=0, verbose_name=_("version"))

    def __str__(self):
        return f"{self.day:%Y-%m-%d}: {self.version}"


class ChannelHealth(models.Model):
    """How a delivery channel (email, SMS) fared lately, written once per batch by the
    sweep; /healthz reports a channel whose last attempts all failed.

    Only failures the channel itself is to blame for count (refused, timed out, 5xx);
    an address the provider rejects is the recipient's problem, not an outage.
    """

    channel = models.CharField(
        max_length=5, choices=Channel.choices, primary_key=True, verbose_name=_("channel")
    )
    failures_in_a_row = models.PositiveIntegerField(default=0, verbose_name=_("failures in a row"))
    last_success_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last success at"))
    last_failure_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last failure at"))

    class Meta:
        verbose_name_plural = "channel health"

    def __str__(self):
        return f"{self.get_channel_display()}: {self.failures_in_a_row} failures in a row"


class Heartbeat(models.Model):
    """When a periodic job last ran, by name; /healthz reads the beat heartbeat."""

    name = models.CharField(max_length=50, primary_key=True, verbose_name=_("name"))
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"))

    def __str__(self):
        return f"{self.name} at {self.last_seen_at:%Y-%m-%d %H:%M:%S}"


class UsedPatientLink(models.Model):
    """A patient link whose action was carried out: the link cannot be used again."""

    nonce = models.CharField(max_length=32, unique=True, verbose_name=_("nonce"))
    action = models.CharField(max_length=20, verbose_name=_("action"))
    subject_id = models.BigIntegerField(verbose_name=_("subject id"))
    used_at = models.DateTimeField(auto_now_add=True, verbose_name=_("used at"))

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
        APPOINTMENT = "appointment", _("Appointment")
        AFTERCARE = "aftercare", _("Aftercare")
        RECURRENCE_CHECK = "recurrence_check", _("Recurrence check")
        WAITLIST_OFFER = "waitlist_offer", _("Waitlist offer")
        CONFIRMATION = "confirmation", _("Booking confirmation")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")
        SKIPPED = "skipped", _("Skipped")

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("patient")
    )
    recipient_name = models.CharField(max_length=200, verbose_name=_("recipient name"))
    channel = models.CharField(max_length=5, choices=Channel.choices, verbose_name=_("channel"))
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = PhoneNumberField(blank=True, verbose_name=_("phone"))
    language = models.CharField(max_length=8, default="en", verbose_name=_("language"))
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    send_at = models.DateTimeField(
        help_text=_("When it is planned to go out"), verbose_name=_("send at")
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When a sweep may take it next (pending only)"),
        verbose_name=_("next attempt at"),
    )
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    skip_reason = models.CharField(max_length=200, blank=True, verbose_name=_("skip reason"))
    provider_message_id = models.CharField(
        max_length=200, blank=True, verbose_name=_("provider message id")
    )
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    failed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When it was given up on (failed only)"),
        verbose_name=_("failed at"),
    )
    idempotency_key = models.CharField(
        max_length=200, unique=True, verbose_name=_("idempotency key")
    )
    source_key = models.CharField(max_length=100, db_index=True, verbose_name=_("source key"))
    context = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Values for the template: times, names, link specs"),
        verbose_name=_("context"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

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

    kind = models.CharField(max_length=20, choices=Reminder.Kind.choices, verbose_name=_("kind"))
    channel = models.CharField(max_length=5, choices=Channel.choices, verbose_name=_("channel"))
    language = models.CharField(
        max_length=8, choices=settings.PATIENT_LANGUAGES, default="en", verbose_name=_("language")
    )
    subject = models.CharField(
        max_length=200, blank=True, help_text=_("Email only"), verbose_name=_("subject")
    )
    body_text = models.TextField(
        help_text=_("Plain text; the whole message for an SMS"), verbose_name=_("body text")
    )
    body_html = models.TextField(
        blank=True, help_text=_("Email only: an HTML version"), verbose_name=_("body html")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

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
    in the admin; nobody adds, changes or deletes a row through the app.

    The viewer is a staff user, or a patient or guardian in the patient portal (portal/),
    who has no user: then `online_viewer` names the contact they verified."""

    class Action(models.TextChoices):
        CHART_VIEW = "chart_view", _("Chart view")
        PHOTO_VIEW = "photo_view", _("Photo view")
        RECORD_VIEW = "record_view", _("Record view")
        HANDOUT_VIEW = "handout_view", _("Handout view")
        EXPORT = "export", _("Export")
        PORTAL_VIEW = "portal_view", _("Portal view (patient or guardian online)")
        API_READ = "api_read", _("API read")
        # A dermatologist's calendar feed fetched by their calendar app: no session, the
        # feed's secret URL is the key; the row names the feed's owner.
        CALENDAR_FEED = "calendar_feed", _("Calendar feed fetch")

    at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("at"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="access_log",
        verbose_name=_("user"),
    )
    action = models.CharField(max_length=20, choices=Action.choices, verbose_name=_("action"))
    # The email address or phone number a patient or guardian verified to open the portal.
    online_viewer = models.CharField(
        max_length=254, blank=True, default="", verbose_name=_("online viewer")
    )
    # Empty for an export of many patients at once.
    patient = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="access_log",
        verbose_name=_("patient"),
    )
    path = models.CharField(max_length=500, verbose_name=_("path"))
    ip_address = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("ip address"))
    detail = models.CharField(max_length=200, blank=True, verbose_name=_("detail"))
    # The API client that read it (fhir_api/), whose service account is `user`; empty for a page.
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )

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
                        "portal_view",
                        "api_read",
                        "calendar_feed",
                    ]
                ),
                name="accesslog_action_valid",
            ),
            # Someone saw it: a staff user, or a verified contact in the portal.
            models.CheckConstraint(
                condition=Q(user__isnull=False, online_viewer="")
                | Q(user__isnull=True) & ~Q(online_viewer=""),
                name="accesslog_one_viewer",
            ),
        ]

    def __str__(self):
        viewer = self.user or self.online_viewer
        return f"{self.get_action_display()} by {viewer} at {self.at:%Y-%m-%d %H:%M}"


class InboundSms(models.Model):
    """A text a patient or guardian sent to the clinic's number, as the provider's webhook
    delivered it (clinic.sms_inbound). A keyword reply (confirm, stop, start) is acted on
    at once and needs nobody; anything else waits in the desk's inbox until someone marks
    it handled. One row per provider message: a webhook delivered twice is stored once."""

    class Provider(models.TextChoices):
        TWILIO = "twilio", _("Twilio")
        VONAGE = "vonage", _("Vonage")

    class Action(models.TextChoices):
        VISIT_CONFIRMED = "visit_confirmed", _("Next visit confirmed")
        REMINDERS_STOPPED = "reminders_stopped", _("Reminders stopped")
        REMINDERS_RESTARTED = "reminders_restarted", _("Reminders restarted")
        NOTHING_TO_CHANGE = "nothing_to_change", _("Nothing to change")
        FOR_THE_DESK = "for_the_desk", _("Kept for the desk")

    provider = models.CharField(max_length=10, choices=Provider.choices, verbose_name=_("provider"))
    provider_message_id = models.CharField(max_length=64, verbose_name=_("provider message id"))
    # E.164 when the provider's number parses as a phone number, else as it came.
    sender = models.CharField(max_length=32, verbose_name=_("sender"))
    recipient = models.CharField(max_length=32, blank=True, verbose_name=_("recipient"))
    body = models.TextField(blank=True, verbose_name=_("body"))
    received_at = models.DateTimeField(db_index=True, verbose_name=_("received at"))
    # Set when exactly one patient is reached at the sender's number.
    patient = models.ForeignKey(
        Patient,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_sms",
        verbose_name=_("patient"),
    )
    action = models.CharField(
        max_length=20, choices=Action.choices, default=Action.FOR_THE_DESK, verbose_name=_("action")
    )
    note = models.CharField(
        max_length=200, blank=True, help_text=_("Why nothing was done"), verbose_name=_("note")
    )
    # A keyword reply is handled when it arrives (by nobody); the desk handles the rest.
    handled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("handled at"))
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
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
        StaffMember,
        on_delete=models.CASCADE,
        related_name="calendar_feed",
        verbose_name=_("staff member"),
    )
    # A random 256-bit token needs no slow hash: nobody can guess their way to a match.
    token_sha256 = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("token hash")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
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
