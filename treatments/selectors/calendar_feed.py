"""A dermatologist's calendar feed: their visits as an iCalendar file (RFC 5545) that
Google, Apple and Outlook calendars subscribe to (docs/calendar-and-mail.md).

When and where, and who as initials (full names only with CLINIC_CALENDAR_FEED_NAMES):
never the procedure, a diagnosis or a note, since a phone's calendar shows its entries on
the lock screen and calendars are shared.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from clinic.channels import calendar_event_uid
from clinic.models import StaffMember

from ..models import Appointment


@dataclass(frozen=True)
class FeedFile:
    body: bytes
    etag: str
    # The newest change among the window's visits, cancelled ones included (a cancellation
    # removes an entry); None when the window has none.
    last_modified: datetime | None


def calendar_feed_appointments(*, dermatologist: StaffMember, now: datetime) -> list[Appointment]:
    """The dermatologist's visits from CLINIC_CALENDAR_FEED_DAYS_BACK days before `now` to
    CLINIC_CALENDAR_FEED_DAYS_AHEAD days after, cancelled ones included, in one query."""
    return list(
        Appointment.objects.filter(
            dermatologist=dermatologist,
            starts_at__gte=now - timedelta(days=settings.CLINIC_CALENDAR_FEED_DAYS_BACK),
            starts_at__lt=now + timedelta(days=settings.CLINIC_CALENDAR_FEED_DAYS_AHEAD),
        )
        .select_related("patient", "room")
        .only(
            "starts_at",
            "ends_at",
            "status",
            "sequence",
            "updated_at",
            "created_at",
            "patient__first_name",
            "patient__last_name",
            "room__name",
        )  # fmt: skip
        .order_by("starts_at", "pk")
    )


def _patient_label(appointment: Appointment) -> str:
    patient = appointment.patient
    if settings.CLINIC_CALENDAR_FEED_NAMES:
        return patient.full_name
    return f"{patient.first_name[:1]}. {patient.last_name[:1]}."


def _event(appointment: Appointment) -> Event:
    event = Event()
    event.add("uid", calendar_event_uid(f"appointment:{appointment.pk}"))
    # The entry's own time of last change, not the fetch's: the same visit gives the same
    # bytes on every fetch, so the ETag only changes when a visit does.
    event.add("dtstamp", appointment.updated_at.astimezone(UTC))
    event.add("created", appointment.created_at.astimezone(UTC))
    event.add("last-modified", appointment.updated_at.astimezone(UTC))
    event.add("sequence", appointment.sequence)
    # In UTC ("Z"), as in the reminder emails: right on both sides of a daylight-saving
    # change whatever zone the calendar app shows them in.
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", appointment.ends_at.astimezone(UTC))
    event.add("summary", _("Visit: %(patient)s") % {"patient": _patient_label(appointment)})
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    if appointment.room is not None:
        event.add("location", appointment.room.name)
    return event


def calendar_feed_file(*, dermatologist: StaffMember, now: datetime) -> FeedFile:
    """The feed of `dermatologist` as it stands at `now`. Cancelled visits are left out: a
    subscribed calendar replaces all its entries on each refresh, so one that disappears
    is removed."""
    appointments = calendar_feed_appointments(dermatologist=dermatologist, now=now)
    refresh = f"PT{settings.CLINIC_CALENDAR_FEED_REFRESH_MINUTES}M"
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.CLINIC_MAIL_NAME}//Schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("%(clinic)s: my visits") % {"clinic": settings.CLINIC_MAIL_NAME})
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    # RFC 7986's REFRESH-INTERVAL for the apps that read it; Outlook reads X-PUBLISHED-TTL.
    calendar.add(
        "refresh-interval", timedelta(minutes=settings.CLINIC_CALENDAR_FEED_REFRESH_MINUTES)
    )
    calendar["refresh-interval"].params["VALUE"] = "DURATION"
    calendar.add("x-published-ttl", refresh)
    for appointment in appointments:
        if appointment.status != Appointment.Status.CANCELLED:
            calendar.add_component(_event(appointment))
    body = calendar.to_ical()
    changes = [appointment.updated_at for appointment in appointments]
    return FeedFile(
        body=body,
        etag=hashlib.sha256(body).hexdigest()[:32],
        last_modified=max(changes) if changes else None,
    )
