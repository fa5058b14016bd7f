"""The clinic itself: its staff, rooms, working hours and time off, and beat's heartbeat."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


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
    is_active = models.BooleanField(default=True, help_text="Inactive staff cannot be booked.")

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
