"""A visit's calendar entry across its messages (clinic/channels.py, treatments/services/
reminders.py): the reminder emails that a booking, a move and a cancellation send, read
through a real SMTP server and parsed with icalendar as a calendar app would apply them.
And the clinic's name in email: neutral in From, subject, SUMMARY and PRODID.

The clock is set to a Monday morning in May 2026 (clinic time, New York) and travelled.
"""

import email.utils
from datetime import datetime

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from icalendar import Calendar

from clinic.channels import reminder_message, templates_load
from clinic.models import Reminder
from clinic.outbox import reminders_send_due
from treatments.models import ProcedureType
from treatments.services import (
    appointment_book,
    appointment_cancel,
    appointment_reinstate,
    appointment_reschedule,
)

from ..factories import RoomFactory, StaffMemberFactory
from ..treatments.conftest import open_all_week
from .test_channels import CLINICAL_WORDS, all_reminder_kinds_for
from .test_outbox import consenting_patient, smtp_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
Status = Reminder.Status
ADDRESS = "12 Harbor Street, Springfield"
# Besides the clinical words of SMS: what an email must not say of the clinic or the visit.
MAIL_WORDS = [*CLINICAL_WORDS, "skin", "dermatolog"]


def at(*fields) -> datetime:
    return timezone.make_aware(datetime(*fields))


@pytest.fixture
def dermatologist(db):
    return open_all_week(StaffMemberFactory())


@pytest.fixture
def room(db):
    return RoomFactory(name="Room 3")


@pytest.fixture
def visit(dermatologist, room):
    """Booked on Monday 4 May 09:00 for Friday 8 May 10:00 (reminders at 72 and 24 hours);
    its confirmation waits for the first sweep."""
    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        return appointment_book(
            patient=consenting_patient(email="ana@example.com", first_name="Ana"),
            dermatologist=dermatologist,
            procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
            starts_at=at(2026, 5, 8, 10, 0),
            booked_by=None,
        )


def plain_text(message) -> str:
    [part] = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    return " ".join(part.get_payload(decode=True).decode().split())


def calendar_part(message) -> tuple[str, Calendar]:
    """The Content-Type's method and the parsed calendar of an email's .ics."""
    [part] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    return part.get_param("method"), Calendar.from_ical(part.get_payload(decode=True))


class CalendarApp:
    """What a calendar app keeps (RFC 5546): per UID, the event of the highest SEQUENCE;
    a REQUEST adds or replaces it, a CANCEL of at least that SEQUENCE cancels it."""

    def __init__(self):
        self.events = {}

    def receive(self, calendar: Calendar) -> None:
        method = str(calendar["method"])
        for event in calendar.walk("VEVENT"):
            uid, sequence = str(event["uid"]), int(event.get("sequence", 0))
            held = self.events.get(uid)
            if held is not None and int(held.get("sequence", 0)) > sequence:
                continue  # an older version arriving late changes nothing
            if method == "CANCEL":
                event["status"] = "CANCELLED"
            self.events[uid] = event


def send_at(moment: datetime) -> None:
    with time_machine.travel(moment, tick=False):
        reminders_send_due()


@override_settings(CLINIC_ADDRESS=ADDRESS, CLINIC_ICS_SHOW_ROOM=True)
def test_a_booked_moved_and_cancelled_visit_ends_cancelled_in_the_calendar(
    visit,
    smtp_server,  # noqa: F811 (the fixture)
):
    app = CalendarApp()

    send_at(at(2026, 5, 5, 10, 1))  # the confirmation and the 72-hour reminder
    booked, reminded = smtp_server.messages
    assert booked["Subject"] == "Booked: your visit on Fri 8 May"
    for message in (booked, reminded):
        method, calendar = calendar_part(message)
        app.receive(calendar)
        [event] = app.events.values()
        assert method == "REQUEST" and str(calendar["method"]) == "REQUEST"
        assert event.decoded("dtstart") == at(2026, 5, 8, 10, 0)
        assert (int(event["sequence"]), str(event["status"])) == (0, "CONFIRMED")
        assert str(event["location"]) == f"{ADDRESS}, Room 3"

    with time_machine.travel(at(2026, 5, 5, 12, 0), tick=False):
        appointment_reschedule(appointment=visit, starts_at=at(2026, 5, 9, 11, 0), by=None)
    send_at(at(2026, 5, 5, 12, 1))  # the notice of the new time goes at once
    moved = smtp_server.messages[2]
    method, calendar = calendar_part(moved)
    app.receive(calendar)
    [event] = app.events.values()  # the same UID: replaced, not a second entry
    assert method == "REQUEST"
    assert event.decoded("dtstart") == at(2026, 5, 9, 11, 0)
    assert int(event["sequence"]) == 1
    assert str(event["status"]) == "CONFIRMED"
    assert "now on Saturday 9 May at 11:00 AM" in plain_text(moved)

    send_at(at(2026, 5, 6, 11, 1))  # the new time's 72-hour reminder: the same version
    app.receive(calendar_part(smtp_server.messages[3])[1])
    [event] = app.events.values()
    assert (event.decoded("dtstart"), int(event["sequence"])) == (at(2026, 5, 9, 11, 0), 1)

    with time_machine.travel(at(2026, 5, 6, 12, 0), tick=False):
        appointment_cancel(appointment=visit, reason="Patient is travelling")
    send_at(at(2026, 5, 6, 12, 1))  # the cancellation notice goes at once
    assert len(smtp_server.messages) == 5
    cancelled = smtp_server.messages[4]
    method, calendar = calendar_part(cancelled)
    app.receive(calendar)
    [event] = app.events.values()
    assert method == "CANCEL" and str(calendar["method"]) == "CANCEL"
    assert str(event["status"]) == "CANCELLED"
    assert int(event["sequence"]) == 2
    assert "Saturday 9 May at 11:00 AM has been cancelled" in plain_text(cancelled)
    for message in smtp_server.messages:  # a subject shows in every inbox list
        subject = message["Subject"].lower()
        assert [word for word in MAIL_WORDS if word in subject] == [], subject
    # Nothing else of the visit is pending: its 24-hour reminder was cancelled.
    assert not Reminder.objects.filter(
        source_key__startswith=f"appointment:{visit.pk}", status=Status.PENDING
    )


def test_a_late_reminder_of_the_old_time_does_not_undo_the_move(visit, smtp_server):  # noqa: F811
    send_at(at(2026, 5, 5, 10, 1))
    with time_machine.travel(at(2026, 5, 5, 12, 0), tick=False):
        appointment_reschedule(appointment=visit, starts_at=at(2026, 5, 9, 11, 0), by=None)
    send_at(at(2026, 5, 5, 12, 1))
    _, first, moved = (calendar_part(message)[1] for message in smtp_server.messages)
    app = CalendarApp()

    app.receive(moved)
    app.receive(first)  # delivered out of order

    [event] = app.events.values()
    assert event.decoded("dtstart") == at(2026, 5, 9, 11, 0)


def test_the_location_is_the_address_alone_unless_the_room_is_asked_for(visit, smtp_server):  # noqa: F811
    with override_settings(CLINIC_ADDRESS=ADDRESS):
        send_at(at(2026, 5, 5, 10, 1))
    with override_settings(CLINIC_ADDRESS=""):
        send_at(at(2026, 5, 7, 10, 1))
    *with_address, without = (calendar_part(m)[1].walk("VEVENT")[0] for m in smtp_server.messages)

    assert [str(event["location"]) for event in with_address] == [ADDRESS, ADDRESS]
    assert "location" not in without


def test_a_visit_moved_before_any_reminder_went_out_sends_no_notice(visit):
    with time_machine.travel(at(2026, 5, 4, 10, 0), tick=False):
        appointment_reschedule(appointment=visit, starts_at=at(2026, 5, 9, 11, 0), by=None)

    assert not Reminder.objects.filter(source_key=f"appointment:{visit.pk}:moved").exists()
    visit.refresh_from_db()
    assert visit.sequence == 1


def test_a_visit_moved_twice_in_quiet_hours_sends_only_the_newest_time(
    visit,
    smtp_server,  # noqa: F811
):
    send_at(at(2026, 5, 5, 10, 1))
    with time_machine.travel(at(2026, 5, 5, 22, 0), tick=False):  # quiet hours: notices wait
        appointment_reschedule(appointment=visit, starts_at=at(2026, 5, 9, 11, 0), by=None)
        appointment_reschedule(appointment=visit, starts_at=at(2026, 5, 9, 14, 0), by=None)
    send_at(at(2026, 5, 6, 8, 1))

    assert len(smtp_server.messages) == 3  # the confirmation, the 72-hour reminder, one notice
    event = calendar_part(smtp_server.messages[2])[1].walk("VEVENT")[0]
    assert (event.decoded("dtstart"), int(event["sequence"])) == (at(2026, 5, 9, 14, 0), 2)


def test_a_visit_cancelled_before_any_reminder_went_out_sends_no_notice(visit):
    with time_machine.travel(at(2026, 5, 4, 10, 0), tick=False):
        appointment_cancel(appointment=visit, reason="Booked by mistake")

    assert not Reminder.objects.filter(source_key=f"appointment:{visit.pk}:cancelled").exists()
    visit.refresh_from_db()
    assert visit.sequence == 1


def test_a_visit_cancelled_for_a_patient_reminded_by_sms_sends_no_calendar_notice(
    dermatologist, room
):
    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        visit = appointment_book(
            patient=consenting_patient(email="", preferred_channel="sms"),
            dermatologist=dermatologist,
            procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
            starts_at=at(2026, 5, 8, 10, 0),
            booked_by=None,
        )
    send_at(at(2026, 5, 5, 10, 1))  # the 72-hour reminder, by SMS
    with time_machine.travel(at(2026, 5, 5, 12, 0), tick=False):
        appointment_cancel(appointment=visit, reason="Patient is ill")

    assert Reminder.objects.filter(source_key=f"appointment:{visit.pk}", status=Status.SENT)
    assert not Reminder.objects.filter(source_key=f"appointment:{visit.pk}:cancelled").exists()


def test_a_visit_reinstated_before_its_notice_went_out_sends_no_cancellation(
    visit,
    smtp_server,  # noqa: F811
):
    send_at(at(2026, 5, 5, 10, 1))  # the 72-hour reminder, with the calendar file
    with time_machine.travel(at(2026, 5, 5, 22, 0), tick=False):  # quiet hours: it waits
        appointment_cancel(appointment=visit, reason="Booked by mistake")
        appointment_reinstate(appointment=visit, by=None)

    [notice] = Reminder.objects.filter(source_key=f"appointment:{visit.pk}:cancelled")
    assert notice.status == Status.CANCELLED
    visit.refresh_from_db()
    assert visit.sequence == 2  # cancelled, then back: a calendar app takes the new REQUEST


def test_every_email_names_the_clinic_neutrally(dermatologist, room, smtp_server):  # noqa: F811
    patient = consenting_patient(email="maya@example.com", first_name="Maya")
    with time_machine.travel(at(2026, 5, 4, 9, 0), tick=False):
        reminders = all_reminder_kinds_for(patient, dermatologist)
        templates = templates_load()
        messages = {r.kind: reminder_message(r, templates=templates) for r in reminders}
    with time_machine.travel(at(2026, 6, 15, 10, 1), tick=False):
        reminders_send_due()

    assert set(messages) == set(Reminder.Kind.values)
    for kind, message in messages.items():
        found = [word for word in MAIL_WORDS if word in message.subject.lower()]
        assert found == [], f"the {kind} email's subject says {found}: {message.subject}"
        assert "{{" not in message.text
    sent = [m for m in smtp_server.messages if "maya@example.com" in m["To"]]
    assert len(sent) == len(reminders)
    for message in sent:
        assert email.utils.parseaddr(message["From"])[0] == "Your clinic"
        assert "milia" not in message.as_string().lower()
    visit_email = next(m for m in sent if m["Subject"].startswith("Reminder: your visit"))
    calendar = calendar_part(visit_email)[1]
    assert str(calendar["prodid"]) == "-//Your clinic//Reminders//EN"
    assert str(calendar.walk("VEVENT")[0]["summary"]) == "Visit at Your clinic"


def test_a_visit_reinstated_after_its_cancellation_went_out_comes_back_in_the_calendar(
    visit,
    smtp_server,  # noqa: F811
):
    send_at(at(2026, 5, 5, 10, 1))
    with time_machine.travel(at(2026, 5, 5, 12, 0), tick=False):
        appointment_cancel(appointment=visit, reason="Booked by mistake")
    send_at(at(2026, 5, 5, 12, 1))
    with time_machine.travel(at(2026, 5, 5, 13, 0), tick=False):
        appointment_reinstate(appointment=visit, by=None)
    send_at(at(2026, 5, 5, 13, 1))
    app = CalendarApp()

    methods = []
    for message in smtp_server.messages:
        method, calendar = calendar_part(message)
        methods.append(method)
        app.receive(calendar)

    assert methods == ["REQUEST", "REQUEST", "CANCEL", "REQUEST"]  # confirmation, reminder, ...
    [event] = app.events.values()
    assert (str(event["status"]), int(event["sequence"])) == ("CONFIRMED", 2)
    assert event.decoded("dtstart") == at(2026, 5, 8, 10, 0)
