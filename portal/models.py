"""One-time codes that prove a patient or guardian holds an email address or phone, and
the portal sessions they open. Patients have no user account: a verified contact is
who they are here (services.py)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patients.models import Channel

# A code is six digits, valid ten minutes, and five tries (issue 15).
CODE_DIGITS = 6
CODE_MINUTES = 10
CODE_TRIES = 5


class OneTimeCode(models.Model):
    """A six-digit code sent to a contact, stored only as a keyed hash (services.py).

    A booking's code carries the booking asked for (`request`) until it is booked; a
    portal code opens a session. pending → verified (the right code in time) → used
    (booked, or the session opened); pending → refused after the fifth wrong try."""

    class Purpose(models.TextChoices):
        BOOKING = "booking", _("Online booking")
        PORTAL = "portal", _("Patient portal")

    class Status(models.TextChoices):
        PENDING = "pending", _("Sent, waiting for the code")
        VERIFIED = "verified", _("Verified")
        USED = "used", _("Used")
        REFUSED = "refused", _("Refused: too many wrong tries")

    # What the browser carries to the verification page; alone it proves nothing.
    reference = models.CharField(max_length=32, unique=True, verbose_name=_("reference"))
    purpose = models.CharField(max_length=8, choices=Purpose.choices, verbose_name=_("purpose"))
    channel = models.CharField(max_length=5, choices=Channel.choices, verbose_name=_("channel"))
    # Normalised: a lower-case email address, or a phone number in E.164.
    contact = models.CharField(max_length=254, verbose_name=_("contact"))
    code_hash = models.CharField(max_length=64, verbose_name=_("code hash"))
    tries = models.PositiveSmallIntegerField(default=0, verbose_name=_("tries"))
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    request = models.JSONField(default=dict, blank=True, verbose_name=_("request"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    verified_at = models.DateTimeField(null=True, blank=True, verbose_name=_("verified at"))

    class Meta:
        indexes = [models.Index(fields=["contact", "created_at"], name="code_contact_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(tries__lte=CODE_TRIES), name="code_tries_at_most_five"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "verified", "used", "refused"]),
                name="code_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "refused"]) | Q(verified_at__isnull=False),
                name="code_verified_has_time",
            ),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} code, {self.get_status_display().lower()}"


class PortalSession(models.Model):
    """A patient's or guardian's portal session: separate from staff sessions (no user,
    its own cookie), ended by logging out or after CLINIC_PORTAL_IDLE_MINUTES idle."""

    # SHA-256 of the cookie's random key: the table alone opens no session.
    key_hash = models.CharField(max_length=64, unique=True, verbose_name=_("key hash"))
    channel = models.CharField(max_length=5, choices=Channel.choices, verbose_name=_("channel"))
    contact = models.CharField(max_length=254, verbose_name=_("contact"))
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))

    def __str__(self):
        return f"Portal session started {self.started_at:%Y-%m-%d %H:%M}"
