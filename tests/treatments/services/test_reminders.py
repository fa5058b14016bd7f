"""The reminder rules (treatments/reminders.py): which reminders a booking, a move, a
cancellation, a signed procedure and a follow-up put in the outbox, and when they go.

Time is travelled, not slept: the clock is set to a Monday morning in May 2026 (clinic
time, New York) and moved to each moment a reminder should or should not go out.
"""

import json
from datetime import date, datetime

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from clinic.models import Reminder, StaffMember
from clinic.outbox import CONSENT_WITHDRAWN, NO_CONSENT, reminders_send_due
from treatments.models import Appointment, FollowUp, Procedure, WaitlistEntry
from treatments.services import (
    appointment_book,
    appointment_cancel,
    appointment_reinstate,
    appointment_reschedule,
)
from treatments.services.reminders import (
    reminders_for_aftercare,
    reminders_for_appointment,
    reminders_for_booked_appointment,
    reminders_for_recurrence_check,
)

from ...factories import AppointmentFactory, GuardianFactory, PatientFactory, StaffMemberFactory

Status = Reminder.Status
Kind = Reminder.Kind


def at(*fields) -> datetime:
    return timezone.make_aware(datetime(*fields))


MONDAY_9 = at(2026, 5, 4, 9, 0)
FRIDAY_10 = at(2026, 5, 8, 10, 0)


@pytest.fixture
def clock(db):
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture
def booker(db):
    return StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST).user


@pytest.fixture
def book(dermatologist, cryotherapy, treatment_room, booker):
    """Book a visit; its confirmation (tested on its own below) goes in the sweep of the
    booking's minute, so that what later sweeps send is the visit's reminders."""

    def book(patient, starts_at=FRIDAY_10):
        appointment = appointment_book(
            patient=patient,
            dermatologist=dermatologist,
            procedure_type=cryotherapy,
            starts_at=starts_at,
            booked_by=booker,
        )
        reminders_send_due()
        return appointment

    return book


def consenting(**fields):
    return PatientFactory(
        reminder_consent=True, reminder_consent_changed_at=at(2026, 1, 1, 9), **fields
    )


def send_times(**filters) -> list[datetime]:
    """When the reminders go, the bookings' confirmations aside."""
    reminders = Reminder.objects.exclude(kind=Kind.CONFIRMATION).filter(**filters)
    return sorted(reminders.values_list("send_at", flat=True))


def sweep_at(clock, moment, mailoutbox) -> list:
    """Move the clock, run one sweep, and return the messages it sent."""
    clock.move_to(moment)
    before = len(mailoutbox)
    reminders_send_due()
    return mailoutbox[before:]


# --- Booking --------------------------------------------------------------------------


def test_a_booking_plans_a_reminder_for_each_offset(clock, book):
    patient = consenting()

    appointment = book(patient)

    reminders = Reminder.objects.filter(kind=Kind.APPOINTMENT).order_by("send_at")
    assert [r.send_at for r in reminders] == [at(2026, 5, 5, 10, 0), at(2026, 5, 7, 10, 0)]
    for reminder in reminders:
        assert (reminder.kind, reminder.status, reminder.channel) == (
            Kind.APPOINTMENT,
            Status.PENDING,
            "email",
        )
        assert reminder.email == patient.email
        assert reminder.source_key == f"appointment:{appointment.pk}"
        assert reminder.context["links"]["confirm_url"] == ["confirm", appointment.pk]
        assert "cryotherapy" not in json.dumps(reminder.context).lower()


def test_a_booking_for_tomorrow_gets_no_72_hour_reminder(clock, book):
    book(consenting(), starts_at=at(2026, 5, 5, 10, 0))

    assert send_times() == [at(2026, 5, 4, 10, 0)]
    reminder = Reminder.objects.get(kind=Kind.APPOINTMENT)
    assert reminder.idempotency_key.endswith(":reminder-24h:email")


@override_settings(CLINIC_REMINDER_OFFSETS_HOURS=(48, 2))
def test_the_offsets_come_from_the_settings(clock, book):
    book(consenting())

    assert send_times() == [at(2026, 5, 6, 10, 0), at(2026, 5, 8, 8, 0)]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_rolled_back_booking_leaves_no_reminders_and_a_committed_one_leaves_them(
    dermatologist, cryotherapy, treatment_room, booker
):
    with time_machine.travel(MONDAY_9, tick=False):
        patient = consenting()
        arguments = {
            "patient": patient,
            "dermatologist": dermatologist,
            "procedure_type": cryotherapy,
            "booked_by": booker,
        }
        with pytest.raises(RuntimeError), transaction.atomic():
            appointment_book(starts_at=FRIDAY_10, **arguments)
            raise RuntimeError("the request failed after booking")

        assert not Appointment.objects.exists()
        assert not Reminder.objects.exists()

        appointment = appointment_book(starts_at=FRIDAY_10, **arguments)

    assert Reminder.objects.filter(source_key=f"appointment:{appointment.pk}").count() == 2


def test_booking_twice_the_same_plan_adds_nothing(clock, book):
    appointment = book(consenting())
    reminders_for_appointment(appointment=appointment)

    assert Reminder.objects.count() == 3  # the two reminders and the confirmation


def test_reminder_times_are_hours_before_the_visit_across_a_dst_change(book):
    # New York springs forward on Sunday 8 March 2026: 72 hours before Tuesday 10:00
    # EDT is Saturday 09:00 EST.
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        book(consenting(), starts_at=at(2026, 3, 10, 10, 0))

    local = [timezone.localtime(moment) for moment in send_times()]
    assert [(m.day, m.hour) for m in local] == [(7, 9), (9, 10)]


# --- Offsets per procedure type, and a visit booked inside an offset --------------------


def test_a_procedure_types_own_offsets_are_used(clock, book, cryotherapy):
    cryotherapy.reminder_offsets = [24, 48, 2]
    cryotherapy.save()

    book(consenting())

    assert send_times() == [at(2026, 5, 6, 10, 0), at(2026, 5, 7, 10, 0), at(2026, 5, 8, 8, 0)]


def test_a_procedure_type_without_offsets_uses_the_clinics_default(clock, book, cryotherapy):
    assert cryotherapy.reminder_offsets == []

    with override_settings(CLINIC_REMINDER_OFFSETS_HOURS=(96,)):
        book(consenting())

    assert send_times() == [at(2026, 5, 4, 10, 0)]


def test_a_visit_booked_inside_an_offset_gets_the_reminders_still_ahead(clock, book, cryotherapy):
    cryotherapy.reminder_offsets = [48, 24]
    cryotherapy.save()

    book(consenting(), starts_at=at(2026, 5, 5, 15, 0))  # 30 hours ahead

    assert send_times() == [at(2026, 5, 4, 15, 0)]  # 24 hours before; 48 has passed


def test_a_visit_booked_inside_every_offset_gets_the_confirmation_alone(
    clock, cryotherapy, dermatologist, treatment_room, booker, mailoutbox
):
    cryotherapy.reminder_offsets = [48, 24]
    cryotherapy.save()
    appointment = appointment_book(
        patient=consenting(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=at(2026, 5, 4, 17, 0),  # 8 hours ahead
        booked_by=booker,
    )

    [confirmation] = Reminder.objects.filter(source_key__startswith=f"appointment:{appointment.pk}")
    assert (confirmation.kind, confirmation.send_at) == (Kind.CONFIRMATION, MONDAY_9)
    [sent] = sweep_at(clock, at(2026, 5, 4, 9, 1), mailoutbox)
    assert "Monday 4 May at 5:00 PM" in sent.body
    assert sweep_at(clock, at(2026, 5, 4, 16, 59), mailoutbox) == []


# --- The confirmation at booking -------------------------------------------------------


def test_a_booking_queues_its_confirmation_at_once_by_the_patients_channel(
    clock, cryotherapy, dermatologist, treatment_room, booker, mailoutbox
):
    patient = consenting(email="ana@example.com")
    appointment = appointment_book(
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=FRIDAY_10,
        booked_by=booker,
    )

    confirmation = Reminder.objects.get(kind=Kind.CONFIRMATION)
    assert (confirmation.status, confirmation.send_at, confirmation.channel) == (
        Status.PENDING,
        MONDAY_9,
        "email",
    )
    assert confirmation.source_key == f"appointment:{appointment.pk}:booked"
    assert confirmation.context["links"]["visit_url"] == ["visit", appointment.pk]
    assert "cryotherapy" not in json.dumps(confirmation.context).lower()
    [sent] = sweep_at(clock, MONDAY_9, mailoutbox)
    assert sent.subject == "Booked: your visit on Fri 8 May"
    assert "Friday 8 May at 10:00 AM" in sent.body
    [(name, calendar, content_type)] = sent.attachments
    assert (name, content_type) == ("visit.ics", "text/calendar; method=REQUEST")
    assert "DTSTART:20260508T140000Z" in str(calendar)


def test_a_confirmation_goes_by_sms_to_a_patient_who_prefers_sms(clock, book):
    book(consenting(email="", phone="+12125550199", preferred_channel="sms"))

    confirmation = Reminder.objects.get(kind=Kind.CONFIRMATION)
    assert (confirmation.channel, confirmation.status) == ("sms", Status.SENT)


def test_a_minors_confirmation_goes_to_the_guardian_who_receives_reminders(clock, book, mailoutbox):
    guardian = GuardianFactory(
        patient__reminder_consent=True, patient__reminder_consent_changed_at=MONDAY_9
    )

    book(guardian.patient)

    [confirmation] = [m for m in mailoutbox if m.subject.startswith("Booked:")]
    assert confirmation.to == [f"{guardian.first_name} {guardian.last_name} <{guardian.email}>"]
    assert confirmation.subject == f"Booked: {guardian.patient.first_name}'s visit on Fri 8 May"


def test_without_consent_no_confirmation_is_sent(clock, book, mailoutbox):
    book(PatientFactory(reminder_consent=False))

    confirmation = Reminder.objects.get(kind=Kind.CONFIRMATION)
    assert (confirmation.status, confirmation.skip_reason) == (Status.SKIPPED, NO_CONSENT)
    assert mailoutbox == []


def test_planning_a_booking_twice_queues_one_confirmation(clock, book):
    appointment = book(consenting())

    reminders_for_booked_appointment(appointment=appointment)

    assert Reminder.objects.filter(kind=Kind.CONFIRMATION).count() == 1


def test_a_visit_cancelled_before_its_confirmation_went_out_sends_none(
    clock, cryotherapy, dermatologist, treatment_room, booker, mailoutbox
):
    clock.move_to(at(2026, 5, 4, 22, 0))  # quiet hours: the confirmation waits for 08:00
    appointment = appointment_book(
        patient=consenting(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=FRIDAY_10,
        booked_by=booker,
    )

    appointment_cancel(appointment=appointment, reason="Booked by mistake", by=None)

    assert Reminder.objects.get(kind=Kind.CONFIRMATION).status == Status.CANCELLED
    assert sweep_at(clock, at(2026, 5, 5, 8, 0), mailoutbox) == []


def test_a_visit_moved_before_its_confirmation_went_out_is_confirmed_at_its_new_time(
    clock, cryotherapy, dermatologist, treatment_room, booker, mailoutbox
):
    clock.move_to(at(2026, 5, 4, 22, 0))
    appointment = appointment_book(
        patient=consenting(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=FRIDAY_10,
        booked_by=booker,
    )

    appointment_reschedule(appointment=appointment, starts_at=at(2026, 5, 13, 10, 0), by=None)
    [sent] = sweep_at(clock, at(2026, 5, 5, 8, 0), mailoutbox)

    assert sent.subject == "Booked: your visit on Wed 13 May"
    assert "Wednesday 13 May at 10:00 AM" in sent.body


# --- Quiet hours, consent, recipients --------------------------------------------------


@override_settings(CLINIC_REMINDER_OFFSETS_HOURS=(12,))
def test_a_reminder_due_in_quiet_hours_goes_when_they_end(clock, book, mailoutbox):
    book(consenting(), starts_at=at(2026, 5, 8, 9, 0))  # 12 hours before is 21:00

    assert send_times() == [at(2026, 5, 8, 8, 0)]
    assert sweep_at(clock, at(2026, 5, 7, 21, 30), mailoutbox) == []
    assert sweep_at(clock, at(2026, 5, 8, 7, 59), mailoutbox) == []
    assert len(sweep_at(clock, at(2026, 5, 8, 8, 0), mailoutbox)) == 1


def test_without_consent_the_rows_are_written_as_skipped_with_the_reason(clock, book, mailoutbox):
    book(PatientFactory(reminder_consent=False))

    assert set(Reminder.objects.values_list("status", "skip_reason")) == {
        (Status.SKIPPED, NO_CONSENT)
    }
    assert sweep_at(clock, at(2026, 5, 7, 10, 0), mailoutbox) == []


def test_consent_withdrawn_after_booking_stops_the_reminders_at_send_time(clock, book, mailoutbox):
    patient = consenting()
    book(patient)
    patient.reminder_consent = False
    patient.reminder_consent_changed_at = timezone.now()
    patient.save()

    assert sweep_at(clock, at(2026, 5, 5, 10, 0), mailoutbox) == []
    assert Reminder.objects.get(status=Status.SKIPPED).skip_reason == CONSENT_WITHDRAWN


def test_a_minors_reminders_go_to_the_guardian_who_receives_them(clock, book, mailoutbox):
    guardian = GuardianFactory(
        patient__reminder_consent=True, patient__reminder_consent_changed_at=MONDAY_9
    )
    child = guardian.patient
    GuardianFactory(patient=child, receives_reminders=False, email="other@example.com")

    book(child)
    sent = sweep_at(clock, at(2026, 5, 5, 10, 0), mailoutbox)

    assert len(sent) == 1
    assert sent[0].to == [f"{guardian.first_name} {guardian.last_name} <{guardian.email}>"]
    assert f"{child.first_name}'s visit on Friday 8 May at 10:00 AM" in sent[0].body


def test_a_minor_with_no_guardian_receiving_reminders_is_skipped(clock, book):
    child = consenting(date_of_birth=date(2020, 1, 1))

    book(child)

    assert set(Reminder.objects.values_list("status", "skip_reason")) == {
        (Status.SKIPPED, "No guardian receives reminders for this minor.")
    }


def test_a_patient_who_prefers_email_but_has_only_a_phone_gets_an_sms(clock, book):
    patient = consenting(email="", phone="+12125550199", preferred_channel="email")

    book(patient)

    assert set(Reminder.objects.values_list("channel", "phone")) == {("sms", "+12125550199")}


# --- Rescheduling, cancelling, reinstating ---------------------------------------------


def test_rescheduling_moves_the_pending_reminders_to_the_new_times(clock, book, mailoutbox):
    appointment = book(consenting())
    reminders = Reminder.objects.filter(source_key=f"appointment:{appointment.pk}")
    ids = set(reminders.values_list("id", flat=True))

    appointment_reschedule(appointment=appointment, starts_at=at(2026, 5, 13, 10, 0), by=None)

    assert set(reminders.values_list("id", flat=True)) == ids  # the same rows, moved
    assert send_times(source_key=f"appointment:{appointment.pk}") == [
        at(2026, 5, 10, 10, 0),
        at(2026, 5, 12, 10, 0),
    ]
    # The confirmation put the visit in her calendar: its new time goes at once.
    [notice] = sweep_at(clock, MONDAY_9, mailoutbox)
    assert notice.subject == "New time: the visit is on Wed 13 May"
    assert sweep_at(clock, at(2026, 5, 5, 10, 0), mailoutbox) == []  # the old 72-hour time
    assert sweep_at(clock, at(2026, 5, 7, 10, 0), mailoutbox) == []  # the old 24-hour time
    [first] = sweep_at(clock, at(2026, 5, 10, 10, 0), mailoutbox)
    assert "Wednesday 13 May at 10:00 AM" in first.body
    assert len(sweep_at(clock, at(2026, 5, 12, 10, 0), mailoutbox)) == 1


def test_a_move_after_a_reminder_was_sent_plans_one_for_the_new_time(clock, book, mailoutbox):
    appointment = book(consenting())
    assert len(sweep_at(clock, at(2026, 5, 5, 10, 0), mailoutbox)) == 1  # 72 hours before

    appointment_reschedule(appointment=appointment, starts_at=at(2026, 5, 15, 10, 0), by=None)

    assert send_times(status=Status.SENT) == [at(2026, 5, 5, 10, 0)]
    # (and the new time's calendar notice, sent at once: a source of its own)
    assert send_times(status=Status.PENDING, source_key=f"appointment:{appointment.pk}") == [
        at(2026, 5, 12, 10, 0),
        at(2026, 5, 14, 10, 0),
    ]
    [notice] = sweep_at(clock, at(2026, 5, 5, 10, 1), mailoutbox)  # the entry she holds moves
    assert notice.attachments[0][2] == "text/calendar; method=REQUEST"
    assert len(sweep_at(clock, at(2026, 5, 12, 10, 0), mailoutbox)) == 1
    assert len(sweep_at(clock, at(2026, 5, 14, 10, 0), mailoutbox)) == 1


def test_a_move_to_tomorrow_cancels_the_reminder_whose_time_has_passed(clock, book):
    appointment = book(consenting())

    appointment_reschedule(appointment=appointment, starts_at=at(2026, 5, 5, 11, 0), by=None)

    reminders = {"source_key": f"appointment:{appointment.pk}"}
    assert send_times(status=Status.PENDING, **reminders) == [at(2026, 5, 4, 11, 0)]
    assert Reminder.objects.filter(status=Status.CANCELLED, **reminders).count() == 1


def test_cancelling_cancels_the_pending_reminders(clock, book, mailoutbox):
    appointment = book(consenting())

    appointment_cancel(appointment=appointment, reason="Patient is ill", by=None)

    reminders = Reminder.objects.filter(source_key=f"appointment:{appointment.pk}")
    assert set(reminders.values_list("status", flat=True)) == {Status.CANCELLED}
    [notice] = sweep_at(clock, MONDAY_9, mailoutbox)  # out of the calendar the confirmation filled
    assert notice.subject == "Cancelled: the visit on Fri 8 May"
    assert sweep_at(clock, at(2026, 5, 7, 10, 0), mailoutbox) == []


def test_cancelling_offers_the_freed_time_to_matching_waitlist_entries(
    clock, book, cryotherapy, mailoutbox
):
    appointment = book(PatientFactory())
    waiting = consenting()
    WaitlistEntry.objects.create(
        patient=waiting,
        procedure_type=cryotherapy,
        earliest_date=date(2026, 5, 5),
        latest_date=date(2026, 5, 9),
    )
    WaitlistEntry.objects.create(  # wants a later week: not offered
        patient=consenting(),
        procedure_type=cryotherapy,
        earliest_date=date(2026, 5, 18),
        latest_date=date(2026, 5, 22),
    )

    appointment_cancel(appointment=appointment, reason="Patient is ill", by=None)
    [offer] = Reminder.objects.filter(kind=Kind.WAITLIST_OFFER)
    sent = sweep_at(clock, at(2026, 5, 4, 9, 1), mailoutbox)

    assert (offer.patient, offer.send_at, offer.status) == (waiting, MONDAY_9, Status.PENDING)
    assert offer.source_key == f"appointment:{appointment.pk}:freed"
    assert [m.to[0].split("<")[1] for m in sent] == [f"{waiting.email}>"]
    assert "Friday 8 May at 10:00 AM" in sent[0].body


def test_reinstating_plans_the_reminders_again_and_withdraws_the_offers(clock, book, cryotherapy):
    appointment = book(consenting())
    WaitlistEntry.objects.create(
        patient=consenting(),
        procedure_type=cryotherapy,
        earliest_date=date(2026, 5, 5),
        latest_date=date(2026, 5, 9),
    )
    appointment_cancel(appointment=appointment, reason="Patient is ill", by=None)

    appointment_reinstate(appointment=appointment, by=None)

    visit = f"appointment:{appointment.pk}"
    assert send_times(source_key=visit, status=Status.PENDING) == [
        at(2026, 5, 5, 10, 0),
        at(2026, 5, 7, 10, 0),
    ]
    assert Reminder.objects.get(kind=Kind.WAITLIST_OFFER).status == Status.CANCELLED


# --- Aftercare and recurrence checks (called by the records services) -------------------


def signed_procedure(patient) -> Procedure:
    appointment = AppointmentFactory(patient=patient, starts_at=timezone.now())
    signer = appointment.dermatologist.user
    return Procedure.objects.create(
        appointment=appointment,
        patient=patient,
        dermatologist=appointment.dermatologist,
        procedure_type=appointment.procedure_type,
        performed_at=timezone.now(),
        status=Procedure.Status.SIGNED,
        signed_at=timezone.now(),
        signed_by=signer,
    )


def test_the_aftercare_reminder_goes_right_after_signing(clock, mailoutbox):
    procedure = signed_procedure(consenting())

    reminders_for_aftercare(procedure=procedure)
    reminders_for_aftercare(procedure=procedure)  # signing is recorded once, but be safe
    sent = sweep_at(clock, MONDAY_9, mailoutbox)

    reminder = Reminder.objects.get()
    assert (reminder.kind, reminder.send_at) == (Kind.AFTERCARE, MONDAY_9)
    assert reminder.context["links"]["aftercare_url"] == ["aftercare", procedure.pk]
    assert len(sent) == 1
    assert "http://127.0.0.1:8000/l/" in sent[0].body


def test_an_aftercare_reminder_signed_late_in_the_evening_waits_for_the_morning(clock):
    clock.move_to(at(2026, 5, 4, 22, 30))

    reminders_for_aftercare(procedure=signed_procedure(consenting()))

    assert send_times() == [at(2026, 5, 5, 8, 0)]


def test_the_recurrence_check_invitation_goes_at_ten_on_the_day_it_falls_due(clock, mailoutbox):
    patient = consenting()
    follow_up = FollowUp.objects.create(
        patient=patient, kind=FollowUp.Kind.RECURRENCE_CHECK, due_on=date(2026, 6, 15)
    )

    reminders_for_recurrence_check(follow_up=follow_up)

    assert send_times() == [at(2026, 6, 15, 10, 0)]
    reminder = Reminder.objects.get()
    assert reminder.context["links"]["book_url"] == ["book-check", follow_up.pk]
    assert sweep_at(clock, at(2026, 6, 15, 9, 59), mailoutbox) == []
    [invitation] = sweep_at(clock, at(2026, 6, 15, 10, 0), mailoutbox)
    assert "check-up" in invitation.subject


def test_a_follow_up_already_past_its_time_gets_no_invitation(clock):
    follow_up = FollowUp.objects.create(
        patient=consenting(), kind=FollowUp.Kind.RECURRENCE_CHECK, due_on=date(2026, 5, 4)
    )
    clock.move_to(at(2026, 5, 4, 10, 30))

    assert reminders_for_recurrence_check(follow_up=follow_up) == []
    assert not Reminder.objects.exists()
