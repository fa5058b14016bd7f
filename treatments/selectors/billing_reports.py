"""The manager's billing reports: a day's takings (payments and refunds per method and
per staff member) and the charge lines of a period for an external billing service."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User

from clinic.clock import day_bounds

from ..models import Charge, Payment
from ..money import ZERO

# The longest period one charges export covers: a year, so one request stays bounded.
CHARGES_EXPORT_MAX_DAYS = 366


@dataclass
class Takings:
    """Payments and refunds of a group (a method, a staff member, the day)."""

    name: str
    count: int = 0
    payments: Decimal = ZERO
    refunds: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.payments - self.refunds

    def add(self, payment: Payment) -> None:
        self.count += 1
        if payment.kind == Payment.Kind.REFUND:
            self.refunds += payment.amount
        else:
            self.payments += payment.amount


@dataclass
class DayTakings:
    day: date
    currency: str
    rows: list[Payment] = field(default_factory=list)
    by_method: list[Takings] = field(default_factory=list)
    by_staff: list[Takings] = field(default_factory=list)
    total: Takings = field(default_factory=lambda: Takings(name=""))


def _staff_name(user: User) -> str:
    staff_member = getattr(user, "staff_member", None)
    return str(staff_member) if staff_member else user.get_full_name() or user.get_username()


def day_takings(*, day: date) -> DayTakings:
    """Every payment and refund received on the clinic day (its time zone), with their
    sums per method (each method listed, also with nothing), per staff member who took
    them, and for the day. One query, however many rows; sums are exact Decimals."""
    start, end = day_bounds(day)
    rows = list(
        Payment.objects.filter(received_at__gte=start, received_at__lt=end)
        .select_related("patient", "received_by__staff_member")
        .order_by("received_at", "pk")
    )
    methods = {value: Takings(name=str(label)) for value, label in Payment.Method.choices}
    staff: dict[int, Takings] = defaultdict(lambda: Takings(name=""))
    takings = DayTakings(day=day, currency=settings.CLINIC_CURRENCY, rows=rows)
    for payment in rows:
        methods[payment.method].add(payment)
        by_staff = staff[payment.received_by_id]
        by_staff.name = _staff_name(payment.received_by)
        by_staff.add(payment)
        takings.total.add(payment)
    takings.by_method = list(methods.values())
    takings.by_staff = sorted(staff.values(), key=lambda row: row.name)
    return takings


def charges_for_export(*, first_day: date, last_day: date) -> list[Charge]:
    """The active charge lines with a date of service from `first_day` to `last_day`
    (both included), with their patients and rendering dermatologists, in date order.
    One query."""
    return list(
        Charge.objects.active()
        .filter(service_date__gte=first_day, service_date__lte=last_day)
        .select_related("patient", "appointment__dermatologist__user", "invoice")
        .order_by("service_date", "patient_id", "pk")
    )
