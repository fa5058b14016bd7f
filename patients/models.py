"""Patients, their guardians, contact preferences and reminder consent, and their lesions."""

from datetime import date
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Cast, Concat, LPad
from django.utils import timezone
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
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


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
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        UNKNOWN = "unknown", "Unknown"

    class Payer(models.TextChoices):
        SELF_PAY = "self_pay", "Self-pay"
        INSURANCE = "insurance", "Insurance"

    # Empty only inside the transaction that registers the patient (patient_save).
    mrn = models.CharField(
        "MRN", max_length=12, unique=True, null=True, blank=True, editable=False,
        help_text="Medical record number, assigned by the clinic at registration.",
    )  # fmt: skip
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    # The record's id in the system the clinic moved from (the CSV import, docs/import.md):
    # re-importing a file finds the rows it already made. Empty for the clinic's own.
    external_id = models.CharField(
        "external ID", max_length=64, null=True, blank=True, unique=True, editable=False
    )
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    # The postal address; the database fills blanks in for rows written without the ORM
    # (the scale seed's COPY).
    address_line_1 = models.CharField(
        "Address line 1", max_length=200, blank=True, default="", db_default=""
    )
    address_line_2 = models.CharField(
        "Address line 2", max_length=200, blank=True, default="", db_default=""
    )
    city = models.CharField(max_length=100, blank=True, default="", db_default="")
    region = models.CharField(
        "State or region", max_length=100, blank=True, default="", db_default=""
    )
    postal_code = models.CharField(max_length=20, blank=True, default="", db_default="")
    country = models.CharField(max_length=100, blank=True, default="", db_default="")
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True, help_text="International format, e.g. +1 212 555 0100")
    preferred_channel = models.CharField(
        max_length=5, choices=Channel.choices, default=Channel.EMAIL
    )
    language = models.CharField(max_length=8, choices=settings.PATIENT_LANGUAGES, default="en")
    reminder_consent = models.BooleanField(
        default=False, help_text="The patient (or guardian) agreed to receive reminders."
    )
    reminder_consent_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="When consent was last given or withdrawn."
    )
    # Empty when the patient withdrew it themselves (the "stop reminders" link).
    reminder_consent_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who last gave or withdrew consent at the clinic.",
    )
    payer = models.CharField(
        max_length=10, choices=Payer.choices, default=Payer.SELF_PAY, db_default=Payer.SELF_PAY
    )
    insurer_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    insurance_member_id = models.CharField(
        "Member ID", max_length=50, blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
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
        MOTHER = "mother", "Mother"
        FATHER = "father", "Father"
        PARENT = "parent", "Parent"
        LEGAL_GUARDIAN = "legal_guardian", "Legal guardian"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="guardians")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    # The record's id in the system the clinic moved from (the CSV import, docs/import.md):
    # re-importing a file finds the rows it already made. Empty for the clinic's own.
    external_id = models.CharField(
        "external ID", max_length=64, null=True, blank=True, unique=True, editable=False
    )
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True)
    receives_reminders = models.BooleanField(
        default=True, help_text="The one guardian to whom the minor's reminders go."
    )
    language = models.CharField(
        max_length=8,
        choices=settings.PATIENT_LANGUAGES,
        blank=True,
        help_text="The language of the messages and pages they receive; empty: the patient's.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
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
        FOREHEAD = "forehead", "Forehead"
        TEMPLE_LEFT = "temple_left", "Temple, left"
        TEMPLE_RIGHT = "temple_right", "Temple, right"
        GLABELLA = "glabella", "Glabella (between the brows)"
        LEFT_UPPER_EYELID = "eyelid_left_upper", "Eyelid, left upper"
        LEFT_LOWER_EYELID = "eyelid_left_lower", "Eyelid, left lower"
        RIGHT_UPPER_EYELID = "eyelid_right_upper", "Eyelid, right upper"
        RIGHT_LOWER_EYELID = "eyelid_right_lower", "Eyelid, right lower"
        PERIORBITAL_LEFT = "periorbital_left", "Periorbital, left"
        PERIORBITAL_RIGHT = "periorbital_right", "Periorbital, right"
        NOSE_BRIDGE = "nose_bridge", "Nose, bridge"
        NOSE_TIP = "nose_tip", "Nose, tip and alae"
        CHEEK_LEFT = "cheek_left", "Cheek, left"
        CHEEK_RIGHT = "cheek_right", "Cheek, right"
        PERIORAL = "perioral", "Perioral (around the mouth)"
        CHIN = "chin", "Chin"
        EAR_LEFT = "ear_left", "Ear, left"
        EAR_RIGHT = "ear_right", "Ear, right"
        SCALP = "scalp", "Scalp"
        # Body, front and back.
        NECK_FRONT = "neck_front", "Neck, front"
        NECK_BACK = "neck_back", "Neck, back"
        CHEST = "chest", "Chest"
        ABDOMEN = "abdomen", "Abdomen"
        UPPER_BACK = "back_upper", "Back, upper"
        LOWER_BACK = "back_lower", "Back, lower"
        SHOULDER_LEFT = "shoulder_left", "Shoulder, left"
        SHOULDER_RIGHT = "shoulder_right", "Shoulder, right"
        UPPER_ARM_LEFT = "upper_arm_left", "Upper arm, left"
        UPPER_ARM_RIGHT = "upper_arm_right", "Upper arm, right"
        FOREARM_LEFT = "forearm_left", "Forearm, left"
        FOREARM_RIGHT = "forearm_right", "Forearm, right"
        HAND_LEFT = "hand_left", "Hand, left"
        HAND_RIGHT = "hand_right", "Hand, right"
        GENITAL = "genital", "Genital area"
        BUTTOCKS = "buttocks", "Buttocks"
        THIGH_LEFT = "thigh_left", "Thigh, left"
        THIGH_RIGHT = "thigh_right", "Thigh, right"
        LOWER_LEG_LEFT = "lower_leg_left", "Lower leg, left"
        LOWER_LEG_RIGHT = "lower_leg_right", "Lower leg, right"
        FOOT_LEFT = "foot_left", "Foot, left"
        FOOT_RIGHT = "foot_right", "Foot, right"

    class MiliaType(models.TextChoices):
        NEONATAL = "neonatal", "Neonatal"
        PRIMARY = "primary", "Primary"
        SECONDARY = "secondary", "Secondary (after injury, burns, resurfacing, steroids)"
        EN_PLAQUE = "en_plaque", "Milia en plaque"
        MULTIPLE_ERUPTIVE = "multiple_eruptive", "Multiple eruptive milia"
        GENODERMATOSIS = "genodermatosis", "Linked with a genodermatosis"

    class Colour(models.TextChoices):
        WHITE = "white", "White"
        YELLOW = "yellow", "Yellow"
        SKIN = "skin", "Skin-coloured"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        TREATED = "treated", "Treated, awaiting its check"
        RESOLVED = "resolved", "Resolved"

    # Still on the skin as far as the chart knows: to treat, or treated and not yet checked.
    CURRENT = (Status.ACTIVE, Status.TREATED)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="lesions")
    site = models.CharField(max_length=24, choices=Site.choices)
    milia_type = models.CharField(max_length=20, choices=MiliaType.choices)
    size_mm = models.DecimalField(
        max_digits=3, decimal_places=1, null=True, blank=True, help_text="Largest diameter, mm"
    )
    count = models.PositiveSmallIntegerField(default=1, help_text="Number of milia at this site")
    colour = models.CharField(max_length=8, choices=Colour.choices, default=Colour.WHITE)
    first_noted = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    resolved_on = models.DateField(null=True, blank=True)
    last_treated_on = models.DateField(
        null=True, blank=True, help_text="The day of the latest procedure recorded on it."
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
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
        ALLERGY = "allergy", "Allergy"
        CONDITION = "condition", "Relevant condition"
        MEDICATION = "medication", "Medication"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
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
