"""Patients, their guardians, contact preferences and reminder consent, and their lesions."""

from datetime import date
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Cast, Concat, LPad
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
E164 = r"^\+[1-9][0-9]{6,14}$"
ADULT_AGE = 18


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


def mrn_for(pk: int) -> str:
    """The medical record number the clinic assigns to patient `pk`: "M" and seven digits
    (more once there are ten million patients). From the key, so two registrations at
    once can never be given the same one."""
    return f"M{pk:07d}"


def mrn_expression() -> models.Func:
    """mrn_for in SQL, for an UPDATE that numbers many patients in one statement: "M" and
    the key, zero-padded to seven digits."""
    key = Cast("pk", models.CharField())
    return Concat(
        Value("M"),
        Case(
            When(pk__lt=10_000_000, then=LPad(key, 7, Value("0"))),
            default=key,
            output_field=models.CharField(),
        ),
        output_field=models.CharField(),
    )


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        INTERSEX = "intersex", _("Intersex")
        UNKNOWN = "unknown", _("Unknown")

    class Payer(models.TextChoices):
        SELF_PAY = "self_pay", _("Self-pay")
        INSURANCE = "insurance", _("Insurance")

    # Empty only inside the transaction that registers the patient (patient_save).
    mrn = models.CharField(
        _("MRN"), max_length=12, unique=True, null=True, blank=True, editable=False,
        help_text=_("Medical record number, assigned by the clinic at registration."),
    )  # fmt: skip
    first_name = models.CharField(max_length=100, verbose_name=_("first name"))
    last_name = models.CharField(max_length=100, verbose_name=_("last name"))
    date_of_birth = models.DateField(verbose_name=_("date of birth"))
    sex = models.CharField(
        max_length=10, choices=Sex.choices, default=Sex.UNKNOWN, verbose_name=_("sex")
    )
    # The record's id in the system the clinic moved from (the CSV import, docs/import.md):
    # re-importing a file finds the rows it already made. Empty for the clinic's own.
    external_id = models.CharField(
        _("external ID"), max_length=64, null=True, blank=True, unique=True, editable=False
    )
    # The postal address; the database fills blanks in for rows written without the ORM
    # (the scale seed's COPY).
    address_line_1 = models.CharField(
        _("Address line 1"),
        max_length=200,
        blank=True,
        default="",
        db_default="",
    )
    address_line_2 = models.CharField(
        _("Address line 2"),
        max_length=200,
        blank=True,
        default="",
        db_default="",
    )
    city = models.CharField(
        max_length=100, blank=True, default="", db_default="", verbose_name=_("city")
    )
    region = models.CharField(
        _("State or region"),
        max_length=100,
        blank=True,
        default="",
        db_default="",
    )
    postal_code = models.CharField(
        max_length=20, blank=True, default="", db_default="", verbose_name=_("postal code")
    )
    country = models.CharField(
        max_length=100, blank=True, default="", db_default="", verbose_name=_("country")
    )
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = PhoneNumberField(
        blank=True,
        help_text=_("International format, e.g. +1 212 555 0100"),
        verbose_name=_("phone"),
    )
    preferred_channel = models.CharField(
        max_length=5,
        choices=Channel.choices,
        default=Channel.EMAIL,
        verbose_name=_("preferred channel"),
    )
    language = models.CharField(
        max_length=8, choices=settings.PATIENT_LANGUAGES, default="en", verbose_name=_("language")
    )
    reminder_consent = models.BooleanField(
        default=False,
        help_text=_("The patient (or guardian) agreed to receive reminders."),
        verbose_name=_("reminder consent"),
    )
    reminder_consent_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When consent was last given or withdrawn."),
        verbose_name=_("reminder consent changed at"),
    )
    # Empty when the patient withdrew it themselves (the "stop reminders" link).
    reminder_consent_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Who last gave or withdrew consent at the clinic."),
        verbose_name=_("reminder consent changed by"),
    )
    payer = models.CharField(
        max_length=10,
        choices=Payer.choices,
        default=Payer.SELF_PAY,
        db_default=Payer.SELF_PAY,
        verbose_name=_("payer"),
    )
    insurer_name = models.CharField(
        max_length=100, blank=True, default="", db_default="", verbose_name=_("insurer name")
    )
    insurance_member_id = models.CharField(
        _("Member ID"),
        max_length=50,
        blank=True,
        default="",
        db_default="",
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    # Set when the patient (or a guardian) registered on the public booking page: the desk
    # checks the record at the first visit and clears it.
    registered_online = models.BooleanField(
        _("Registered online, to verify"),
        default=False,
        db_default=False,
        help_text=_("Registered on the public booking page; the desk clears it once checked."),
    )
    history = HistoricalRecords()
    # The user the next history row names, and why; services set them before save()
    # (django-simple-history).
    _history_user: "User | None"
    _change_reason: str

    class Meta:
        ordering = ["last_name", "first_name", "date_of_birth"]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="patient_name_idx"),
            models.Index(fields=["date_of_birth"], name="patient_birth_idx"),
            models.Index(fields=["phone"], name="patient_phone_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=E164), name="patient_phone_e164"
            ),
            models.CheckConstraint(
                condition=Q(reminder_consent=False) | Q(reminder_consent_changed_at__isnull=False),
                name="patient_consent_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(first_name="") & ~Q(last_name=""), name="patient_name_not_empty"
            ),
            # Self-pay names no insurer; insurance names both the insurer and the member.
            models.CheckConstraint(
                condition=Q(payer="self_pay", insurer_name="", insurance_member_id="")
                | (Q(payer="insurance") & ~Q(insurer_name="") & ~Q(insurance_member_id="")),
                name="patient_payer_complete",
                violation_error_message="Insurance needs the insurer's name and the member ID.",
            ),
        ]

    def __str__(self):
        return f"{self.last_name}, {self.first_name} ({self.date_of_birth:%Y-%m-%d})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def age(self, on: date | None = None) -> int:
        return age_on(self.date_of_birth, on or timezone.localdate())

    @property
    def is_minor(self) -> bool:
        return self.age() < ADULT_AGE


class Guardian(models.Model):
    """A parent or legal guardian of a minor: receives reminders and consents for them."""

    class Relationship(models.TextChoices):
        MOTHER = "mother", _("Mother")
        FATHER = "father", _("Father")
        PARENT = "parent", _("Parent")
        LEGAL_GUARDIAN = "legal_guardian", _("Legal guardian")
        OTHER = "other", _("Other")

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="guardians", verbose_name=_("patient")
    )
    first_name = models.CharField(max_length=100, verbose_name=_("first name"))
    last_name = models.CharField(max_length=100, verbose_name=_("last name"))
    relationship = models.CharField(
        max_length=20, choices=Relationship.choices, verbose_name=_("relationship")
    )
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = PhoneNumberField(blank=True, verbose_name=_("phone"))
    # The record's id in the system the clinic moved from (the CSV import, docs/import.md):
    # re-importing a file finds the rows it already made. Empty for the clinic's own.
    external_id = models.CharField(
        _("external ID"), max_length=64, null=True, blank=True, unique=True, editable=False
    )
    receives_reminders = models.BooleanField(
        default=True,
        help_text=_("The one guardian to whom the minor's reminders go."),
        verbose_name=_("receives reminders"),
    )
    language = models.CharField(
        max_length=8,
        choices=settings.PATIENT_LANGUAGES,
        blank=True,
        help_text=_("The language of the messages and pages they receive; empty: the patient's."),
        verbose_name=_("language"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords()
    # The user the next history row names; services set it before save() (django-simple-history).
    _history_user: "User | None"

    class Meta:
        ordering = ["-receives_reminders", "last_name", "first_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=E164), name="guardian_phone_e164"
            ),
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(phone=""), name="guardian_has_contact"
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(receives_reminders=True),
                name="guardian_one_reminder_recipient",
            ),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name} ({self.get_relationship_display()})"


class Lesion(models.Model):
    """One charted lesion (or a cluster of milia at one site), followed until resolved."""

    class Site(models.TextChoices):
        # Face: detailed, because that is where milia live.
        FOREHEAD = "forehead", _("Forehead")
        TEMPLE_LEFT = "temple_left", _("Temple, left")
        TEMPLE_RIGHT = "temple_right", _("Temple, right")
        GLABELLA = "glabella", _("Glabella (between the brows)")
        LEFT_UPPER_EYELID = "eyelid_left_upper", _("Eyelid, left upper")
        LEFT_LOWER_EYELID = "eyelid_left_lower", _("Eyelid, left lower")
        RIGHT_UPPER_EYELID = "eyelid_right_upper", _("Eyelid, right upper")
        RIGHT_LOWER_EYELID = "eyelid_right_lower", _("Eyelid, right lower")
        PERIORBITAL_LEFT = "periorbital_left", _("Periorbital, left")
        PERIORBITAL_RIGHT = "periorbital_right", _("Periorbital, right")
        NOSE_BRIDGE = "nose_bridge", _("Nose, bridge")
        NOSE_TIP = "nose_tip", _("Nose, tip and alae")
        CHEEK_LEFT = "cheek_left", _("Cheek, left")
        CHEEK_RIGHT = "cheek_right", _("Cheek, right")
        PERIORAL = "perioral", _("Perioral (around the mouth)")
        CHIN = "chin", _("Chin")
        EAR_LEFT = "ear_left", _("Ear, left")
        EAR_RIGHT = "ear_right", _("Ear, right")
        SCALP = "scalp", _("Scalp")
        # Body, front and back.
        NECK_FRONT = "neck_front", _("Neck, front")
        NECK_BACK = "neck_back", _("Neck, back")
        CHEST = "chest", _("Chest")
        ABDOMEN = "abdomen", _("Abdomen")
        UPPER_BACK = "back_upper", _("Back, upper")
        LOWER_BACK = "back_lower", _("Back, lower")
        SHOULDER_LEFT = "shoulder_left", _("Shoulder, left")
        SHOULDER_RIGHT = "shoulder_right", _("Shoulder, right")
        UPPER_ARM_LEFT = "upper_arm_left", _("Upper arm, left")
        UPPER_ARM_RIGHT = "upper_arm_right", _("Upper arm, right")
        FOREARM_LEFT = "forearm_left", _("Forearm, left")
        FOREARM_RIGHT = "forearm_right", _("Forearm, right")
        HAND_LEFT = "hand_left", _("Hand, left")
        HAND_RIGHT = "hand_right", _("Hand, right")
        GENITAL = "genital", _("Genital area")
        BUTTOCKS = "buttocks", _("Buttocks")
        THIGH_LEFT = "thigh_left", _("Thigh, left")
        THIGH_RIGHT = "thigh_right", _("Thigh, right")
        LOWER_LEG_LEFT = "lower_leg_left", _("Lower leg, left")
        LOWER_LEG_RIGHT = "lower_leg_right", _("Lower leg, right")
        FOOT_LEFT = "foot_left", _("Foot, left")
        FOOT_RIGHT = "foot_right", _("Foot, right")

    class MiliaType(models.TextChoices):
        NEONATAL = "neonatal", _("Neonatal")
        PRIMARY = "primary", _("Primary")
        SECONDARY = "secondary", _("Secondary (after injury, burns, resurfacing, steroids)")
        EN_PLAQUE = "en_plaque", _("Milia en plaque")
        MULTIPLE_ERUPTIVE = "multiple_eruptive", _("Multiple eruptive milia")
        GENODERMATOSIS = "genodermatosis", _("Linked with a genodermatosis")

    class Colour(models.TextChoices):
        WHITE = "white", _("White")
        YELLOW = "yellow", _("Yellow")
        SKIN = "skin", _("Skin-coloured")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        TREATED = "treated", _("Treated, awaiting its check")
        RESOLVED = "resolved", _("Resolved")

    # Still on the skin as far as the chart knows: to treat, or treated and not yet checked.
    CURRENT = (Status.ACTIVE, Status.TREATED)

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="lesions", verbose_name=_("patient")
    )
    site = models.CharField(max_length=24, choices=Site.choices, verbose_name=_("site"))
    milia_type = models.CharField(
        max_length=20, choices=MiliaType.choices, verbose_name=_("milia type")
    )
    size_mm = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        help_text=_("Largest diameter, mm"),
        verbose_name=_("size mm"),
    )
    count = models.PositiveSmallIntegerField(
        default=1, help_text=_("Number of milia at this site"), verbose_name=_("count")
    )
    colour = models.CharField(
        max_length=8, choices=Colour.choices, default=Colour.WHITE, verbose_name=_("colour")
    )
    first_noted = models.DateField(verbose_name=_("first noted"))
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    resolved_on = models.DateField(null=True, blank=True, verbose_name=_("resolved on"))
    last_treated_on = models.DateField(
        null=True,
        blank=True,
        help_text=_("The day of the latest procedure recorded on it."),
        verbose_name=_("last treated on"),
    )
    note = models.CharField(max_length=300, blank=True, verbose_name=_("note"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    history = HistoricalRecords()
    # The user the next history row names; services set it before save() (django-simple-history).
    _history_user: "User | None"

    class Meta:
        ordering = ["status", "site"]
        indexes = [models.Index(fields=["patient", "status"], name="lesion_patient_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(count__gte=1) & Q(count__lte=500), name="lesion_count_range"
            ),
            models.CheckConstraint(
                condition=Q(size_mm__isnull=True) | (Q(size_mm__gt=0) & Q(size_mm__lte=50)),
                name="lesion_size_range",
            ),
            models.CheckConstraint(
                condition=(Q(status__in=["active", "treated"]) & Q(resolved_on__isnull=True))
                | (Q(status="resolved") & Q(resolved_on__isnull=False)),
                name="lesion_resolved_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="treated") | Q(last_treated_on__isnull=False),
                name="lesion_treated_has_date",
            ),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=models.F("first_noted")),
                name="lesion_resolved_after_noted",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "treated", "resolved"]),
                name="lesion_status_valid",
            ),
        ]

    def __str__(self):
        return f"{self.get_site_display()}: {self.count} × {self.get_milia_type_display()}"


class PatientAlert(models.Model):
    """Something every clinician must see first: an allergy (e.g. to lidocaine), a condition."""

    class Kind(models.TextChoices):
        ALLERGY = "allergy", _("Allergy")
        CONDITION = "condition", _("Relevant condition")
        MEDICATION = "medication", _("Medication")
        OTHER = "other", _("Other")

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("patient")
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, verbose_name=_("kind"))
    description = models.CharField(max_length=200, verbose_name=_("description"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords()
    # The user the next history row names; services set it before save() (django-simple-history).
    _history_user: "User | None"

    class Meta:
        ordering = ["-is_active", "kind", "description"]
        constraints = [
            models.CheckConstraint(condition=~Q(description=""), name="alert_has_description"),
            models.CheckConstraint(
                condition=Q(kind__in=["allergy", "condition", "medication", "other"]),
                name="alert_kind_valid",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.description}"
