"""Patients move and cancel their own visits within the clinic's self-service policy
(treatments/services/self_service.py, treatments/views/self_service.py).

The clock is Monday 4 May 2026, 09:00 clinic time; the visit is on Wednesday 6 May at
10:00, 49 hours ahead. The default policy: not within 24 hours, up to 90 days ahead, two
moves per visit, any dermatologist.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.links import Action, LinkUsed, link_open, link_token
from clinic.models import Reminder, UsedPatientLink
from treatments.models import Appointment, AppointmentEvent, ProcedureType, SelfServicePolicy
from treatments.selectors.self_service import self_service_slots
from treatments.services import SlotTaken, appointment_book
from treatments.services.self_service import (
    SelfServiceRefused,
    appointment_self_reschedule,
    reschedule_refusal,
    self_service_refusal,
)

from ...factories import PatientFactory, RoomFactory, StaffMemberFactory
from ..conftest import open_all_week
from .test_double_booking import concurrent, run_together

pytestmark = pytest.mark.django_db


def at(*fields) -> datetime:
    return timezone.make_aware(datetime(*fields))


MONDAY_9 = at(2026, 5, 4, 9, 0)
WEDNESDAY_10 = at(2026, 5, 6, 10, 0)
THURSDAY_11 = at(2026, 5, 7, 11, 0)


def consenting(**fields):
    return PatientFactory(
        reminder_consent=True, reminder_consent_changed_at=at(2026, 1, 1, 9), **fields
    )


def link(action: str, subject_id: int) -> str:
    return reverse(
        "treatments:patient_link", args=[link_token(action=action, subject_id=subject_id)]
    )


def opened(action: str, subject_id: int):
    return link_open(link_token(action=action, subject_id=subject_id))


@pytest.fixture
def clock(db):
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture
def cryotherapy(db):
    return ProcedureType.objects.get(slug="cryotherapy")


@pytest.fixture
def dermatologist(db):
    return open_all_week(StaffMemberFactory())


@pytest.fixture
def visit(clock, cryotherapy, dermatologist):
    """A cryotherapy visit booked by the desk for Wednesday at 10:00, with its reminders."""
    RoomFactory()
    return appointment_book(
        patient=consenting(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=WEDNESDAY_10,
        booked_by=None,
    )


def move(visit, starts_at, dermatologist=None):
    return appointment_self_reschedule(
        link=opened(Action.RESCHEDULE, visit.pk),
        appointment=visit,
        starts_at=starts_at,
        dermatologist=dermatologist or visit.dermatologist,
    )


# --- The service --------------------------------------------------------------------


def test_a_patient_moves_the_visit_and_the_desk_sees_it_in_its_history(visit):
    moved = move(visit, THURSDAY_11)

    assert (moved.starts_at, moved.self_moves) == (THURSDAY_11, 1)
    event = AppointmentEvent.objects.filter(appointment=visit).last()
    assert (event.action, event.actor) == (AppointmentEvent.Action.RESCHEDULED, None)
    assert event.note == "moved by the patient online from 2026-05-06 10:00 to 2026-05-07 11:00"


def test_the_reminders_move_with_the_visit(visit):
    pending = Reminder.objects.filter(
        source_key=f"appointment:{visit.pk}", status=Reminder.Status.PENDING
    )
    before = sorted(pending.values_list("send_at", flat=True))
    assert before  # the desk's booking planned them

    move(visit, THURSDAY_11)

    # Each moves by the visit's day and hour; an offset whose time had passed before the
    # move (72 hours before Wednesday) may now come back for Thursday.
    after = set(pending.values_list("send_at", flat=True))
    assert {send_at + (THURSDAY_11 - WEDNESDAY_10) for send_at in before} <= after
    assert not set(before) & after


def test_exactly_at_the_cut_off_the_visit_can_still_be_changed(visit, clock):
    policy = SelfServicePolicy.current()
    clock.move_to(WEDNESDAY_10 - timedelta(hours=24))
    assert self_service_refusal(appointment=visit, policy=policy) is None

    clock.move_to(WEDNESDAY_10 - timedelta(hours=24) + timedelta(seconds=1))
    assert self_service_refusal(appointment=visit, policy=policy) == (
        "Your visit is less than 24 hours away, so it can no longer be changed online."
    )


def test_inside_the_cut_off_a_move_is_refused_and_nothing_changes(visit, clock):
    clock.move_to(at(2026, 5, 5, 11, 0))  # 23 hours before the visit

    with pytest.raises(SelfServiceRefused, match="less than 24 hours away"):
        move(visit, THURSDAY_11)

    visit.refresh_from_db()
    assert (visit.starts_at, visit.self_moves) == (WEDNESDAY_10, 0)
    assert not UsedPatientLink.objects.exists()  # the link still works for another try


def test_the_move_count_limit_is_enforced(visit):
    visit = move(visit, THURSDAY_11)
    visit = move(visit, at(2026, 5, 8, 11, 0))
    assert visit.self_moves == 2

    assert "as often as allowed (2)" in reschedule_refusal(
        appointment=visit, policy=SelfServicePolicy.current()
    )
    with pytest.raises(SelfServiceRefused, match="as often as allowed"):
        move(visit, at(2026, 5, 11, 11, 0))
    visit.refresh_from_db()
    assert visit.starts_at == at(2026, 5, 8, 11, 0)


def test_a_new_time_inside_the_cut_off_or_past_the_horizon_is_refused(visit):
    with pytest.raises(SelfServiceRefused):
        move(visit, at(2026, 5, 5, 8, 30))  # 23.5 hours from now
    with pytest.raises(SelfServiceRefused):
        move(visit, MONDAY_9 + timedelta(days=91))
    visit.refresh_from_db()
    assert visit.starts_at == WEDNESDAY_10


def test_another_dermatologist_is_refused_when_the_policy_keeps_the_same_one(visit):
    SelfServicePolicy.objects.filter(pk=1).update(same_dermatologist=True)
    other = open_all_week(StaffMemberFactory())

    with pytest.raises(SelfServiceRefused, match="same dermatologist"):
        move(visit, THURSDAY_11, dermatologist=other)
    assert move(visit, THURSDAY_11).dermatologist == visit.dermatologist


def test_a_visit_moves_only_to_times_its_own_procedure_type_fits(clock, dermatologist):
    """Curettage takes 30 minutes: a 15-minute gap that cryotherapy would fit is not offered."""
    RoomFactory()
    curettage = ProcedureType.objects.get(slug="curettage")
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    visit = appointment_book(
        patient=consenting(),
        dermatologist=dermatologist,
        procedure_type=curettage,
        starts_at=WEDNESDAY_10,
        booked_by=None,
    )
    for starts_at in (at(2026, 5, 7, 8, 0), at(2026, 5, 7, 8, 30)):  # leaves 08:15-08:30
        appointment_book(
            patient=consenting(),
            dermatologist=dermatologist,
            procedure_type=cryotherapy,
            starts_at=starts_at,
            booked_by=None,
        )
    starts = [
        timezone.localtime(slot.starts_at).strftime("%H:%M")
        for slot in self_service_slots(
            appointment=visit, policy=SelfServicePolicy.current(), day=THURSDAY_11.date()
        )
    ]
    assert "08:15" not in starts and "08:45" in starts
    assert curettage.duration_minutes == 30


def test_a_used_reschedule_link_cannot_move_the_visit_again(visit):
    used = opened(Action.RESCHEDULE, visit.pk)
    appointment_self_reschedule(
        link=used, appointment=visit, starts_at=THURSDAY_11, dermatologist=visit.dermatologist
    )
    with pytest.raises(LinkUsed):
        appointment_self_reschedule(
            link=used,
            appointment=visit,
            starts_at=at(2026, 5, 8, 11, 0),
            dermatologist=visit.dermatologist,
        )


@concurrent
def test_two_patients_moving_into_one_time_one_wins_the_other_gets_alternatives(
    cryotherapy,
):
    with time_machine.travel(MONDAY_9, tick=True):
        dermatologist = open_all_week(StaffMemberFactory())
        RoomFactory()
        RoomFactory()
        visits = [
            appointment_book(
                patient=consenting(),
                dermatologist=dermatologist,
                procedure_type=cryotherapy,
                starts_at=starts_at,
                booked_by=None,
            )
            for starts_at in (WEDNESDAY_10, at(2026, 5, 6, 11, 0))
        ]
        links = [opened(Action.RESCHEDULE, visit.pk) for visit in visits]

        outcomes = run_together(
            [
                lambda visit=visit, link=link: appointment_self_reschedule(
                    link=link,
                    appointment=visit,
                    starts_at=THURSDAY_11,
                    dermatologist=dermatologist,
                )
                for visit, link in zip(visits, links, strict=True)
            ]
        )

    moved = [outcome for outcome in outcomes if isinstance(outcome, Appointment)]
    taken = [outcome for outcome in outcomes if isinstance(outcome, SlotTaken)]
    assert (len(moved), len(taken)) == (1, 1), outcomes
    assert Appointment.objects.filter(starts_at=THURSDAY_11).count() == 1
    alternatives = taken[0].alternatives
    assert alternatives and THURSDAY_11 not in {slot.starts_at for slot in alternatives}
    assert UsedPatientLink.objects.count() == 1  # the loser's link still works


# --- The pages ----------------------------------------------------------------------


def test_the_visit_page_offers_a_move_and_the_move_page_lists_free_times(visit, client):
    page = client.get(link(Action.VISIT, visit.pk)).content.decode()
    assert "Move my visit" in page and "Cancel my visit" in page

    response = client.get(link(Action.RESCHEDULE, visit.pk) + "?day=2026-05-07")
    assert response.status_code == 200
    value = f"{visit.dermatologist_id}|{THURSDAY_11.astimezone(UTC).isoformat()}"
    assert f'value="{value}"' in response.content.decode()


def test_the_move_page_moves_the_visit(visit, client):
    url = link(Action.RESCHEDULE, visit.pk)
    slot = f"{visit.dermatologist_id}|{THURSDAY_11.isoformat()}"

    response = client.post(url, {"slot": slot})

    assert response.status_code == 200
    assert "Your visit has moved" in response.content.decode()
    visit.refresh_from_db()
    assert visit.starts_at == THURSDAY_11
    assert client.post(url, {"slot": slot}).status_code == 410  # the link is used


def test_a_taken_time_answers_409_with_the_nearest_free_times(visit, client, cryotherapy):
    appointment_book(
        patient=consenting(),
        dermatologist=visit.dermatologist,
        procedure_type=cryotherapy,
        starts_at=THURSDAY_11,
        booked_by=None,
    )
    response = client.post(
        link(Action.RESCHEDULE, visit.pk),
        {"slot": f"{visit.dermatologist_id}|{THURSDAY_11.isoformat()}"},
    )
    page = response.content.decode()
    assert response.status_code == 409
    assert "That time has just been taken." in page and "The nearest free times" in page
    assert page.count('name="slot"') >= 1
    visit.refresh_from_db()
    assert visit.starts_at == WEDNESDAY_10


@pytest.mark.parametrize(
    "slot", ["", "tomorrow", "12|2026-05-07T11:00:00", "x|2026-05-07T11:00:00+00:00"]
)
def test_a_damaged_choice_is_a_400_with_the_page_again(visit, client, slot):
    response = client.post(link(Action.RESCHEDULE, visit.pk), {"slot": slot})
    assert response.status_code == 400
    assert "Choose one of the times offered." in response.content.decode()


@pytest.mark.parametrize("day", ["not-a-day", "2026-02-30", "2027-01-01"])
def test_a_bad_or_far_day_is_a_400_page(visit, client, day):
    response = client.get(link(Action.RESCHEDULE, visit.pk) + f"?day={day}")
    assert response.status_code == 400
    assert 'name="slot"' not in response.content.decode()


def test_inside_the_cut_off_the_pages_refuse_and_give_the_phone(visit, client, clock, settings):
    clock.move_to(at(2026, 5, 5, 11, 0))

    visit_page = client.get(link(Action.VISIT, visit.pk)).content.decode()
    move_page = client.get(link(Action.RESCHEDULE, visit.pk))
    cancelled = client.post(link(Action.CANCEL, visit.pk))

    assert "Move my visit" not in visit_page and "Cancel my visit" not in visit_page
    assert "less than 24 hours away" in visit_page and settings.CLINIC_PHONE in visit_page
    assert move_page.status_code == 409 and settings.CLINIC_PHONE in move_page.content.decode()
    assert cancelled.status_code == 409
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_outside_the_cut_off_the_cancel_link_still_cancels(visit, client):
    assert client.post(link(Action.CANCEL, visit.pk)).status_code == 200
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CANCELLED


def test_a_turned_off_policy_offers_no_move(visit, client):
    SelfServicePolicy.objects.filter(pk=1).update(patients_may_reschedule=False)

    page = client.get(link(Action.VISIT, visit.pk)).content.decode()

    assert "Move my visit" not in page and "Visits cannot be moved online." in page
    assert client.get(link(Action.RESCHEDULE, visit.pk)).status_code == 409


def test_the_policy_is_one_row_written_with_the_defaults():
    policy = SelfServicePolicy.objects.get()
    assert (
        policy.cutoff_hours,
        policy.days_ahead,
        policy.moves_per_visit,
        policy.same_dermatologist,
        policy.patients_may_reschedule,
    ) == (24, 90, 2, False, True)
    SelfServicePolicy.objects.filter(pk=1).update(cutoff_hours=48)
    assert SelfServicePolicy.current().cutoff_hours == 48
    with pytest.raises(IntegrityError), transaction.atomic():
        SelfServicePolicy.objects.create(id=2)


def test_the_manager_changes_the_policy_in_the_admin_but_adds_none(manager_client):
    url = reverse("admin:treatments_selfservicepolicy_change", args=[1])
    form = {
        "patients_may_reschedule": "on",
        "cutoff_hours": "48",
        "days_ahead": "60",
        "moves_per_visit": "1",
    }
    assert manager_client.post(url, form).status_code == 302
    assert SelfServicePolicy.current().cutoff_hours == 48
    add = manager_client.get(reverse("admin:treatments_selfservicepolicy_add"))
    assert add.status_code == 403


def test_the_move_page_is_private_and_not_indexed(visit):
    response = Client().get(link(Action.RESCHEDULE, visit.pk))
    assert response["X-Robots-Tag"] == "noindex"
    assert "no-store" in response["Cache-Control"]
