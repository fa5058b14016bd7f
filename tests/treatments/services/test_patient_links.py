"""The pages behind reminder links: patients and guardians act without a login, once."""

import base64
import threading
import time
from datetime import timedelta
from types import SimpleNamespace
from unittest.mock import patch

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.links import ACTION_NUMBERS, NONCE_BYTES, SALT, Action, link_token
from clinic.models import UsedPatientLink
from patients.models import Patient
from treatments.models import Appointment, AppointmentEvent, FollowUp, Procedure
from treatments.services.patient_links import CANCEL_REASON, STOPPED_BY_LINK

from ...factories import AppointmentFactory, PatientFactory

PHONE = settings.CLINIC_PHONE
ACTIONS_THAT_CHANGE = [Action.CONFIRM, Action.CANCEL, Action.BOOK_CHECK, Action.STOP]


def link(action, subject_id) -> str:
    return reverse(
        "treatments:patient_link", args=[link_token(action=action, subject_id=subject_id)]
    )


def tampered(url: str) -> str:
    """The same link with one character of its authentication tag changed."""
    token = url.rstrip("/").rsplit("/", 1)[1]
    index = len(token) - 10  # inside the tag, where every bit counts
    changed = "A" if token[index] != "A" else "B"
    return reverse("treatments:patient_link", args=[token[:index] + changed + token[index + 1 :]])


def signed_long_ago(action, subject_id, *, seconds_ago) -> str:
    with patch("clinic.links.time.time", return_value=time.time() - seconds_ago):
        return link(action, subject_id)


@pytest.fixture
def visit(cryotherapy, dermatologist, tomorrow_at):
    """A booked visit the day after tomorrow at 10:15 (past the self-service cut-off of 24
    hours at any hour the suite runs) for a patient who agreed to reminders, with a signed
    procedure from an earlier visit and a check-up that is due."""
    patient = PatientFactory(
        last_name="Oyelaran", reminder_consent=True, reminder_consent_changed_at=timezone.now()
    )
    appointment = AppointmentFactory(
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=tomorrow_at(10, 15) + timedelta(days=1),
        reason="Milia on the left upper eyelid",
    )
    earlier = AppointmentFactory(
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=timezone.now() - timedelta(days=3),
        status=Appointment.Status.COMPLETED,
    )
    procedure = Procedure.objects.create(
        appointment=earlier,
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        performed_at=earlier.starts_at,
        aftercare_text="A blister may form within 24-48 hours: do not pop it.",
        status=Procedure.Status.SIGNED,
        signed_at=earlier.starts_at,
        signed_by=dermatologist.user,
    )
    follow_up = FollowUp.objects.create(
        patient=patient,
        procedure=procedure,
        kind=FollowUp.Kind.RECURRENCE_CHECK,
        due_on=timezone.localdate() + timedelta(weeks=6),
    )
    return SimpleNamespace(
        patient=patient, appointment=appointment, procedure=procedure, follow_up=follow_up
    )


def subject_of(visit, action) -> int:
    return {
        Action.CONFIRM: visit.appointment.pk,
        Action.CANCEL: visit.appointment.pk,
        Action.AFTERCARE: visit.procedure.pk,
        Action.BOOK_CHECK: visit.follow_up.pk,
        Action.STOP: visit.patient.pk,
        Action.VISIT: visit.appointment.pk,
        Action.RESCHEDULE: visit.appointment.pk,
        Action.PHOTO_CHECK: visit.follow_up.pk,
        # A freed visit and a waitlist entry (claim_subject_id); refused before either is read.
        Action.CLAIM: (visit.appointment.pk << 32) | 1,
    }[action]


def state(visit) -> tuple:
    """Everything a link could change."""
    appointment = Appointment.objects.get(pk=visit.appointment.pk)
    follow_up = FollowUp.objects.get(pk=visit.follow_up.pk)
    patient = Patient.objects.get(pk=visit.patient.pk)
    return (
        appointment.status,
        appointment.cancellation_reason,
        AppointmentEvent.objects.count(),
        follow_up.booking_requested_at,
        patient.reminder_consent,
        patient.reminder_consent_changed_at,
        UsedPatientLink.objects.count(),
    )


# --- Confirm -------------------------------------------------------------------------


def test_the_confirm_page_shows_the_day_time_and_clinic_and_changes_nothing(client, visit):
    before = state(visit)

    response = client.get(link(Action.CONFIRM, visit.appointment.pk))

    assert response.status_code == 200
    page = response.content.decode()
    local = timezone.localtime(visit.appointment.starts_at)
    assert f"{local:%A} {local.day} {local:%B %Y} at 10:15" in page
    assert settings.CLINIC_NAME in page
    assert 'method="post"' in page and "csrfmiddlewaretoken" in page
    assert state(visit) == before


@pytest.mark.parametrize("action", [Action.CONFIRM, Action.CANCEL])
def test_the_confirm_and_cancel_pages_name_no_procedure_reason_or_patient(client, visit, action):
    page = client.get(link(action, visit.appointment.pk)).content.decode().lower()

    assert "cryotherapy" not in page
    assert "eyelid" not in page  # the reason for the visit
    assert "oyelaran" not in page


def test_confirming_through_the_link_confirms_the_visit_as_the_patient(client, visit):
    response = client.post(link(Action.CONFIRM, visit.appointment.pk))

    assert response.status_code == 200
    local = timezone.localtime(visit.appointment.starts_at)
    sentence = f"Your visit on {local:%a} {local.day} {local:%b} at 10:15 is confirmed."
    assert sentence in response.content.decode()
    visit.appointment.refresh_from_db()
    assert visit.appointment.status == Appointment.Status.CONFIRMED
    event = AppointmentEvent.objects.get(
        appointment=visit.appointment, action=AppointmentEvent.Action.CONFIRMED
    )
    assert event.actor is None


def test_a_visit_the_desk_already_confirmed_is_confirmed_without_a_second_event(client, visit):
    Appointment.objects.filter(pk=visit.appointment.pk).update(status=Appointment.Status.CONFIRMED)

    response = client.post(link(Action.CONFIRM, visit.appointment.pk))

    assert response.status_code == 200
    assert b"is confirmed" in response.content
    assert not AppointmentEvent.objects.filter(appointment=visit.appointment).exists()


def test_confirming_a_cancelled_visit_is_refused_with_the_clinic_phone(client, visit):
    Appointment.objects.filter(pk=visit.appointment.pk).update(
        status=Appointment.Status.CANCELLED, cancellation_reason="Called the desk"
    )
    url = link(Action.CONFIRM, visit.appointment.pk)
    before = state(visit)

    shown = client.get(url)
    posted = client.post(url)

    for response in (shown, posted):
        assert response.status_code == 409
        assert "This visit has been cancelled." in response.content.decode()
        assert PHONE in response.content.decode()
    assert state(visit) == before


# --- Cancel --------------------------------------------------------------------------


def test_the_cancel_page_asks_for_an_optional_reason_and_changes_nothing(client, visit):
    before = state(visit)

    response = client.get(link(Action.CANCEL, visit.appointment.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "at 10:15" in page
    assert 'name="reason"' in page and "required" not in page
    assert state(visit) == before


def test_cancelling_through_the_link_cancels_the_visit_as_the_patient(client, visit):
    response = client.post(link(Action.CANCEL, visit.appointment.pk))

    assert response.status_code == 200
    assert b"at 10:15 is cancelled." in response.content
    visit.appointment.refresh_from_db()
    assert visit.appointment.status == Appointment.Status.CANCELLED
    assert visit.appointment.cancellation_reason == CANCEL_REASON
    event = AppointmentEvent.objects.get(appointment=visit.appointment)
    assert (event.action, event.actor, event.note) == ("cancelled", None, CANCEL_REASON)


def test_the_patients_reason_for_cancelling_is_recorded(client, visit):
    client.post(link(Action.CANCEL, visit.appointment.pk), {"reason": "  Down with flu  "})

    visit.appointment.refresh_from_db()
    assert visit.appointment.cancellation_reason == "Down with flu"


def test_cancelling_an_already_cancelled_visit_is_a_conflict_with_the_clinic_phone(client, visit):
    client.post(link(Action.CANCEL, visit.appointment.pk))
    before = state(visit)

    response = client.post(link(Action.CANCEL, visit.appointment.pk))  # a second reminder's

    assert response.status_code == 409
    assert PHONE in response.content.decode()
    assert state(visit) == before


def test_a_visit_that_has_begun_cannot_be_cancelled_through_a_link(client, visit):
    Appointment.objects.filter(pk=visit.appointment.pk).update(
        starts_at=timezone.now() - timedelta(minutes=5),
        ends_at=timezone.now() + timedelta(minutes=10),
    )
    before = state(visit)

    response = client.post(link(Action.CANCEL, visit.appointment.pk))

    assert response.status_code == 409
    assert b"The time of this visit has passed." in response.content
    assert state(visit) == before


# --- Aftercare -----------------------------------------------------------------------


def test_the_aftercare_page_shows_a_signed_procedures_instructions(client, visit):
    response = client.get(link(Action.AFTERCARE, visit.procedure.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>Your aftercare instructions" in page
    assert "A blister may form within 24-48 hours: do not pop it." in page
    assert "Cryotherapy" in page
    assert f"{timezone.localtime(visit.procedure.performed_at):%B %Y}" in page
    assert PHONE in page
    assert "css/links.css" in page


def test_the_aftercare_link_can_be_read_again_and_changes_nothing(client, visit):
    url = link(Action.AFTERCARE, visit.procedure.pk)
    before = state(visit)

    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    assert state(visit) == before


def test_the_aftercare_of_an_unsigned_procedure_is_not_shown(client, visit):
    Procedure.objects.filter(pk=visit.procedure.pk).update(
        status=Procedure.Status.DRAFT, signed_at=None, signed_by=None
    )

    response = client.get(link(Action.AFTERCARE, visit.procedure.pk))

    assert response.status_code == 400
    assert b"A blister" not in response.content
    assert PHONE in response.content.decode()


def test_posting_to_an_aftercare_link_is_not_allowed(client, visit):
    before = state(visit)

    response = client.post(link(Action.AFTERCARE, visit.procedure.pk))

    assert response.status_code == 405
    assert state(visit) == before


# --- Book a check-up -----------------------------------------------------------------


def test_the_book_check_page_shows_when_the_check_is_due_and_changes_nothing(client, visit):
    before = state(visit)

    response = client.get(link(Action.BOOK_CHECK, visit.follow_up.pk))

    assert response.status_code == 200
    assert f"{visit.follow_up.due_on:%B %Y}" in response.content.decode()
    assert state(visit) == before


def test_asking_to_book_the_check_records_when_the_patient_asked(client, visit):
    response = client.post(link(Action.BOOK_CHECK, visit.follow_up.pk))

    assert response.status_code == 200
    visit.follow_up.refresh_from_db()
    assert visit.follow_up.booking_requested_at is not None
    assert timezone.now() - visit.follow_up.booking_requested_at < timedelta(minutes=1)
    assert visit.follow_up.status == FollowUp.Status.OPEN


def test_a_check_that_is_already_done_cannot_be_asked_for(client, visit):
    FollowUp.objects.filter(pk=visit.follow_up.pk).update(
        status=FollowUp.Status.DONE, completed_at=timezone.now()
    )
    before = state(visit)

    response = client.post(link(Action.BOOK_CHECK, visit.follow_up.pk))

    assert response.status_code == 409
    assert b"already taken place" in response.content
    assert state(visit) == before


# --- Stop reminders ------------------------------------------------------------------


def test_the_stop_page_explains_and_changes_nothing(client, visit):
    before = state(visit)

    response = client.get(link(Action.STOP, visit.patient.pk))

    assert response.status_code == 200
    assert b"no longer send you reminders" in response.content
    assert b"we can turn them back on for you" in response.content  # the desk can, now
    assert state(visit) == before


def test_stopping_reminders_withdraws_consent_and_records_when(client, visit):
    response = client.post(link(Action.STOP, visit.patient.pk))

    assert response.status_code == 200
    visit.patient.refresh_from_db()
    assert visit.patient.reminder_consent is False
    assert timezone.now() - visit.patient.reminder_consent_changed_at < timedelta(minutes=1)
    # Nobody at the clinic did it: the history says the patient did, by the link.
    assert visit.patient.reminder_consent_changed_by is None
    assert visit.patient.history.latest().history_change_reason == STOPPED_BY_LINK


# --- Every link that changes something -----------------------------------------------


@pytest.mark.parametrize("action", ACTIONS_THAT_CHANGE)
def test_a_link_posted_a_second_time_is_gone_and_changes_nothing(client, visit, action):
    url = link(action, subject_of(visit, action))
    assert client.post(url).status_code == 200
    before = state(visit)

    again = client.post(url)
    shown = client.get(url)

    assert (again.status_code, shown.status_code) == (410, 410)
    assert b"already been used" in again.content
    assert state(visit) == before


@pytest.mark.parametrize("action", sorted(Action.ALL))
def test_a_tampered_link_is_refused_and_changes_nothing(client, visit, action):
    url = tampered(link(action, subject_of(visit, action)))
    before = state(visit)

    responses = [client.get(url), client.post(url)]

    assert [r.status_code for r in responses] == [400, 400]
    assert PHONE in responses[0].content.decode()
    assert state(visit) == before


@pytest.mark.parametrize("action", sorted(Action.ALL))
def test_an_expired_link_is_gone_and_changes_nothing(client, visit, action):
    url = signed_long_ago(
        action, subject_of(visit, action), seconds_ago=settings.CLINIC_LINK_MAX_AGE + 60
    )
    before = state(visit)

    responses = [client.get(url), client.post(url)]

    assert [r.status_code for r in responses] == [410, 410]
    assert b"expired" in responses[0].content
    assert state(visit) == before


def test_a_link_a_little_younger_than_the_limit_still_works(client, visit):
    url = signed_long_ago(
        Action.CONFIRM, visit.appointment.pk, seconds_ago=settings.CLINIC_LINK_MAX_AGE - 60
    )

    assert client.post(url).status_code == 200


def test_a_shorter_link_lifetime_setting_expires_older_links(client, visit, settings):
    url = signed_long_ago(Action.CONFIRM, visit.appointment.pk, seconds_ago=3600)
    settings.CLINIC_LINK_MAX_AGE = 1800

    assert client.get(url).status_code == 410


def test_the_action_of_a_link_cannot_be_swapped_for_another(client, visit):
    confirm = link(Action.CONFIRM, visit.appointment.pk).rstrip("/").rsplit("/", 1)[1]
    raw = bytearray(base64.urlsafe_b64decode(confirm + "="))
    # Whoever knows the format could flip the encrypted action from confirm (0) to cancel
    # (1) without the key; the authentication tag is what refuses it.
    raw[NONCE_BYTES] ^= ACTION_NUMBERS.index(Action.CONFIRM) ^ ACTION_NUMBERS.index(Action.CANCEL)
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    before = state(visit)

    response = client.post(reverse("treatments:patient_link", args=[forged]), {"reason": "x"})

    assert response.status_code == 400
    assert state(visit) == before


def test_a_confirm_link_posted_with_a_reason_confirms_and_does_not_cancel(client, visit):
    client.post(link(Action.CONFIRM, visit.appointment.pk), {"reason": "Cancel it"})

    visit.appointment.refresh_from_db()
    assert visit.appointment.status == Appointment.Status.CONFIRMED


def test_a_stop_link_changes_the_patient_and_not_an_appointment_with_the_same_id(client, visit):
    same_id = Appointment.objects.filter(pk=visit.patient.pk).first() or AppointmentFactory(
        pk=visit.patient.pk, starts_at=visit.appointment.starts_at
    )
    status_before = same_id.status

    client.post(link(Action.STOP, visit.patient.pk))

    same_id.refresh_from_db()
    assert same_id.status == status_before
    assert not AppointmentEvent.objects.filter(appointment=same_id).exists()
    assert not Patient.objects.get(pk=visit.patient.pk).reminder_consent


@pytest.mark.parametrize("salt", [SALT, "another.purpose"])
def test_a_signed_link_of_the_old_format_or_another_purpose_is_refused(client, visit, salt):
    # Links made before the tokens were encrypted are signed JSON: no longer valid.
    token = signing.dumps(
        {"a": Action.CONFIRM, "s": visit.appointment.pk, "n": "x"}, salt=salt, compress=True
    )

    response = client.post(reverse("treatments:patient_link", args=[token]))

    assert response.status_code == 400
    assert Appointment.objects.get(pk=visit.appointment.pk).status == Appointment.Status.BOOKED


@pytest.mark.parametrize("action", sorted(Action.ALL))
def test_a_link_to_something_that_no_longer_exists_is_gone(client, db, action):
    response = client.get(link(action, 999_999))

    assert response.status_code == 410
    assert PHONE in response.content.decode()


def test_a_follow_up_deleted_after_the_reminder_leaves_the_link_gone_and_unused(client, visit):
    url = link(Action.BOOK_CHECK, visit.follow_up.pk)
    visit.follow_up.delete()

    assert client.post(url).status_code == 410
    assert not UsedPatientLink.objects.exists()


def test_a_post_without_the_csrf_token_is_forbidden_and_changes_nothing(visit):
    client = Client(enforce_csrf_checks=True)
    before = state(visit)

    response = client.post(link(Action.CANCEL, visit.appointment.pk))

    assert response.status_code == 403
    assert state(visit) == before


def test_the_pages_form_carries_a_working_csrf_token(visit):
    client = Client(enforce_csrf_checks=True)
    url = link(Action.CANCEL, visit.appointment.pk)
    client.get(url)

    response = client.post(url, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert response.status_code == 200


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_not_allowed(client, visit, method):
    response = getattr(client, method)(link(Action.CANCEL, visit.appointment.pk))

    assert response.status_code == 405
    assert Appointment.objects.get(pk=visit.appointment.pk).status == Appointment.Status.BOOKED


# --- The pages themselves ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url_of"),
    [
        ("get", lambda v: link(Action.CONFIRM, v.appointment.pk)),
        ("post", lambda v: link(Action.CANCEL, v.appointment.pk)),
        ("get", lambda v: link(Action.AFTERCARE, v.procedure.pk)),
        ("get", lambda v: tampered(link(Action.STOP, v.patient.pk))),
        ("post", lambda v: link(Action.AFTERCARE, v.procedure.pk)),
    ],
)
def test_every_response_is_kept_out_of_caches_referers_and_search_engines(
    client, visit, method, url_of
):
    response = getattr(client, method)(url_of(visit))

    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Robots-Tag"] == "noindex"
    assert '<meta name="robots" content="noindex">' in response.content.decode()


def test_the_patient_pages_have_no_staff_navigation_and_no_scripts(client, visit):
    page = client.get(link(Action.CANCEL, visit.appointment.pk)).content.decode()

    assert "vendor/bootstrap/bootstrap.min.css" in page
    assert "<script" not in page
    assert "<nav" not in page and "Log out" not in page
    assert reverse("treatments:schedule_day") not in page


def test_the_confirm_page_reads_the_link_and_the_visit_in_two_queries(
    client, visit, django_assert_num_queries
):
    url = link(Action.CONFIRM, visit.appointment.pk)
    # 1. was the link used already  2. the appointment, with its patient (the language)
    with django_assert_num_queries(2):
        assert client.get(url).status_code == 200


# --- Two clicks at once --------------------------------------------------------------


def post_together(url: str, times: int) -> list:
    """POST the URL from `times` threads (each with its own database connection) at once."""
    barrier = threading.Barrier(times)
    outcomes = [None] * times

    def run(index):
        try:
            barrier.wait()
            outcomes[index] = Client().post(url).status_code
        except Exception as error:  # collected and asserted on below
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_simultaneous_clicks_on_a_cancel_link_cancel_once(visit):
    outcomes = post_together(link(Action.CANCEL, visit.appointment.pk), times=2)

    assert sorted(outcomes, key=str) == [200, 410], outcomes
    assert AppointmentEvent.objects.filter(appointment=visit.appointment).count() == 1
    assert Appointment.objects.get(pk=visit.appointment.pk).status == "cancelled"
    assert UsedPatientLink.objects.count() == 1
