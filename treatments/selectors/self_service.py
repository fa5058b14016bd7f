"""The times a patient may move a visit to, under the clinic's SelfServicePolicy: free
slots of the visit's procedure type (the same service the desk's picker uses), from the
end of the cut-off to `days_ahead` days from today, with the same dermatologist when the
policy says so."""

from datetime import date, datetime, timedelta

from django.utils import timezone

from ..models import Appointment, SelfServicePolicy
from .availability import Slot, free_slots


def self_service_window(
    *, policy: SelfServicePolicy, now: datetime | None = None
) -> tuple[datetime, date]:
    """The earliest start a patient may move a visit to (now plus the cut-off, so the
    clinic keeps its notice) and the last clinic day they may move it to."""
    now = now or timezone.now()
    return now + timedelta(hours=policy.cutoff_hours), timezone.localdate(now) + timedelta(
        days=policy.days_ahead
    )


def self_service_slots(
    *, appointment: Appointment, policy: SelfServicePolicy, day: date, limit: int | None = None
) -> list[Slot]:
    """The free times on `day` the visit may move to; none outside the policy's window."""
    earliest, last_day = self_service_window(policy=policy)
    if day > last_day or day < timezone.localdate(earliest):
        return []
    return free_slots(
        procedure_type=appointment.procedure_type,
        start_day=day,
        end_day=day,
        dermatologist=appointment.dermatologist if policy.same_dermatologist else None,
        now=earliest,
        exclude_appointment_id=appointment.pk,
        limit=limit,
    )


def self_service_first_day(*, appointment: Appointment, policy: SelfServicePolicy) -> date | None:
    """The first day in the policy's window with a free time for the visit, if any."""
    earliest, last_day = self_service_window(policy=policy)
    first = free_slots(
        procedure_type=appointment.procedure_type,
        start_day=timezone.localdate(earliest),
        end_day=last_day,
        dermatologist=appointment.dermatologist if policy.same_dermatologist else None,
        now=earliest,
        exclude_appointment_id=appointment.pk,
        limit=1,
    )
    return timezone.localdate(first[0].starts_at) if first else None
