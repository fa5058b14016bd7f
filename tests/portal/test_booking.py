"""The public booking page: a visit type marked bookable online, a real free time, a
one-time code to the contact given, and the desk's booking service behind it."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import AccessLog, Reminder
from patients.models import Guardian, Patient
from portal.models import OneTimeCode
from treatments.models import Appointment, AppointmentEvent, ProcedureType

from ..factories import AppointmentFactory, GuardianFactory, PatientFactory, StaffMemberFactory
from ..treatments.conftest import open_all_week
from .conftest import MONDAY_9, TUESDAY_10, last_code, local

pytestmark = pytest.mark.django_db
DETAILS = reverse("portal:book_details")


def details(procedure_type, dermatologist, starts_at=TUESDAY_10, **changes) -> dict:
    return {
        "procedure_type": procedure_type.pk,
        "dermatologist": dermatologist.pk,
        "starts_at": local(starts_at),
        "booking_for": "me",
        "first_name": "Ana",
        "last_name": "Lima",
        "date_of_birth": "1990-03-02",
        "contact": "Ana.Lima@example.com",
        "reminders": "on",
        **changes,
    }


def ask_for_code(client, data):
    response = client.post(DETAILS, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def test_the_page_offers_the_types_bookable_online_and_real_free_times(
    client, monday, dermatologist, consultation
):
    page = client.get(reverse("portal:book_start"))
    times = client.get(
        reverse("portal:book_start"),
        {"procedure_type": consultation.pk, "dermatologist": "", "day": "2026-05-04"},
    )

    assert page.status_code == 200
    assert "Consultation" in page.content.decode()
    assert "Cryotherapy" not in page.content.decode()  # not bookable online
    html = times.content.decode()
    # Now is 9:00 and the grid is 15 minutes: the first free time is 9:15 today.
    assert html.count('class="btn btn-outline-primary w-100 text-start slot"') == 12
    assert f"starts_at={local(MONDAY_9 + timedelta(minutes=15))[:16]}".replace(
        ":", "%3A"
    ) in html.replace("&amp;", "&")


def test_a_new_patient_books_online_with_the_code_sent_to_the_email_given(
    client, monday, dermatologist, consultation
):
    verify = ask_for_code(client, details(consultation, dermatologist))
    code = OneTimeCode.objects.get()
    digits = last_code()

    assert mail.outbox[-1].to == ["ana.lima@example.com"]
    assert digits not in code.code_hash and len(code.code_hash) == 64  # stored hashed
    assert Patient.objects.count() == 0  # nothing before the code is verified
    response = client.post(verify, {"code": digits})

    assert response.status_code == 200
    visit = Appointment.objects.get()
    patient = visit.patient
    assert (visit.starts_at, visit.dermatologist, visit.procedure_type) == (
        TUESDAY_10,
        dermatologist,
        consultation,
    )
    assert (patient.full_name, patient.date_of_birth, patient.email) == (
        "Ana Lima",
        date(1990, 3, 2),
        "ana.lima@example.com",
    )
    assert patient.registered_online and patient.reminder_consent
    assert patient.mrn  # registered like any patient
    event = AppointmentEvent.objects.get(appointment=visit)
    assert (event.action, event.actor, event.note) == (
        "booked",
        None,
        "Booked online by the patient",
    )
    assert Reminder.objects.filter(patient=patient, kind="confirmation").exists()
    log = AccessLog.objects.get()
    assert (log.action, log.user, log.online_viewer, log.patient) == (
        "portal_view",
        None,
        "ana.lima@example.com",
        patient,
    )
    assert OneTimeCode.objects.get().status == "used"


def test_the_confirmation_goes_out_in_the_language_of_the_page(
    client, monday, dermatologist, consultation
):
    verify = client.post(DETAILS, details(consultation, dermatologist), HTTP_ACCEPT_LANGUAGE="es")[
        "Location"
    ]
    client.post(verify, {"code": last_code()}, HTTP_ACCEPT_LANGUAGE="es")

    patient = Patient.objects.get()
    assert patient.language == "es"
    assert set(Reminder.objects.filter(patient=patient).values_list("language", flat=True)) == {
        "es"
    }


def test_a_code_by_sms_goes_to_the_sms_outbox(
    client, monday, dermatologist, consultation, settings, tmp_path
):
    settings.SMS_FILE_PATH = tmp_path
    verify = ask_for_code(
        client, details(consultation, dermatologist, contact="(212) 555-0142", reminders="")
    )
    text = next(tmp_path.glob("*.txt")).read_text()
    digits = text.split("code is ")[1][:6]

    assert "To: +12125550142" in text and "Consultation" not in text
    assert client.post(verify, {"code": digits}).status_code == 200
    patient = Patient.objects.get()
    assert (str(patient.phone), patient.preferred_channel, patient.reminder_consent) == (
        "+12125550142",
        "sms",
        False,
    )


def test_an_existing_patient_is_matched_by_name_birth_date_and_the_verified_contact(
    client, monday, dermatologist, consultation
):
    known = PatientFactory(
        first_name="Ana",
        last_name="Lima",
        date_of_birth=date(1990, 3, 2),
        email="ana.lima@example.com",
    )
    same_name_other_contact = details(consultation, dermatologist, contact="someone@example.com")

    client.post(
        ask_for_code(client, details(consultation, dermatologist, first_name="ANA")),
        {"code": last_code()},
    )
    other = Client()
    other.post(
        ask_for_code(
            other, {**same_name_other_contact, "starts_at": local(TUESDAY_10 + timedelta(hours=1))}
        ),
        {"code": last_code()},
    )

    assert Appointment.objects.filter(patient=known).count() == 1
    stranger = Patient.objects.exclude(pk=known.pk).get()  # not matched: a new record
    assert stranger.registered_online and not known.registered_online


def test_a_guardian_books_for_a_child_and_receives_the_reminders(
    client, monday, dermatologist, consultation
):
    data = details(
        consultation,
        dermatologist,
        booking_for="child",
        first_name="Leo",
        date_of_birth="2025-11-01",
        guardian_first_name="Marta",
        guardian_last_name="Lima",
        contact="marta@example.com",
    )
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"  # the page in Spanish
    client.post(ask_for_code(client, data), {"code": last_code()})

    child = Patient.objects.get()
    guardian = Guardian.objects.get()
    assert (child.language, guardian.language) == ("es", "")  # the guardian reads the child's
    assert (child.full_name, child.email, child.registered_online) == ("Leo Lima", "", True)
    assert (guardian.patient, guardian.email, guardian.receives_reminders) == (
        child,
        "marta@example.com",
        True,
    )
    assert AppointmentEvent.objects.get().note == "Booked online by a guardian"


def test_a_child_already_known_is_matched_through_the_guardians_contact(
    client, monday, dermatologist, consultation
):
    guardian = GuardianFactory(email="marta@example.com")
    child = guardian.patient
    data = details(
        consultation,
        dermatologist,
        booking_for="child",
        first_name=child.first_name,
        last_name=child.last_name,
        date_of_birth=child.date_of_birth.isoformat(),
        guardian_first_name="Marta",
        guardian_last_name="Lima",
        contact="marta@example.com",
    )
    client.post(ask_for_code(client, data), {"code": last_code()})

    assert Appointment.objects.get().patient == child
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date_of_birth": "2015-01-01"}, "booking_for"),  # a child books alone
        ({"booking_for": "child"}, "booking_for"),  # an adult as a child
        ({"booking_for": "child", "date_of_birth": "2015-01-01"}, "guardian_first_name"),
        ({"contact": "not a contact"}, "contact"),
        ({"date_of_birth": "2030-01-01"}, "date_of_birth"),
    ],
)
def test_bad_details_answer_400_with_the_reason_and_send_nothing(
    client, monday, dermatologist, consultation, changes, field
):
    response = client.post(DETAILS, details(consultation, dermatologist, **changes))

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert mail.outbox == [] and OneTimeCode.objects.count() == 0


def test_a_named_procedure_is_bookable_online_only_by_a_returning_patient(
    client, monday, dermatologist, extraction
):
    response = client.post(
        ask_for_code(client, details(extraction, dermatologist)), {"code": last_code()}
    )

    assert response.status_code == 400
    assert "only by patients who have been to the clinic" in response.content.decode()
    assert Patient.objects.count() == 0 and Appointment.objects.count() == 0


def test_a_taken_time_offers_the_nearest_free_ones_and_writes_nothing(
    client, monday, dermatologist, consultation
):
    verify = ask_for_code(client, details(consultation, dermatologist))
    AppointmentFactory(
        dermatologist=dermatologist, procedure_type=consultation, room=None, starts_at=TUESDAY_10
    )
    patients_before = Patient.objects.count()

    taken = client.post(verify, {"code": last_code()})

    assert taken.status_code == 409
    assert Patient.objects.count() == patients_before  # the registration was undone
    html = taken.content.decode()
    assert html.count('class="btn btn-outline-primary w-100 text-start alternative"') == 3
    choose = reverse("portal:booking_choose", args=[verify.rstrip("/").split("/")[-1]])
    booked = client.post(
        choose,
        {"dermatologist": dermatologist.pk, "starts_at": local(TUESDAY_10 + timedelta(minutes=20))},
    )
    assert booked.status_code == 200
    assert Appointment.objects.filter(starts_at=TUESDAY_10 + timedelta(minutes=20)).count() == 1


def test_an_alternative_needs_a_verified_code(client, monday, dermatologist, consultation):
    verify = ask_for_code(client, details(consultation, dermatologist))
    choose = verify + "choose/"

    response = client.post(
        choose, {"dermatologist": dermatologist.pk, "starts_at": local(TUESDAY_10)}
    )

    assert response.status_code == 409
    assert Appointment.objects.count() == 0


def test_the_demo_offers_a_consultation_and_a_recurrence_check_online(client):
    call_command("seed_demo")

    page = client.get(reverse("portal:book_start")).content.decode()

    assert "Consultation" in page and "Recurrence check" in page and "Extraction" in page
    assert "Cryotherapy" not in page
    assert ProcedureType.objects.get(slug="extraction").online_returning_only


def test_the_free_times_cost_the_same_queries_for_one_dermatologist_and_several(
    client, monday, dermatologist, consultation
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page = client.get(reverse("portal:book_start"), {"procedure_type": consultation.pk})
        assert page.status_code == 200
        return len(captured)

    one = queries()
    for _ in range(3):
        open_all_week(StaffMemberFactory())
    AppointmentFactory(dermatologist=dermatologist, procedure_type=consultation, room=None)
    several = queries()

    # The visit type asked for; the dermatologists' names; the availability search in one
    # statement (working hours, time off, appointments; no treatment room needed, so no
    # rooms); the form's two lists shown again (visit types, dermatologists).
    assert one == several == 5


def test_a_visit_type_taken_off_the_page_meanwhile_is_refused_with_a_reason(
    client, monday, dermatologist, consultation
):
    verify = ask_for_code(client, details(consultation, dermatologist))
    consultation.bookable_online = False
    consultation.save()

    response = client.post(verify, {"code": last_code()})

    assert response.status_code == 400
    assert "cannot be booked online any more" in response.content.decode()
    assert Patient.objects.count() == 0
