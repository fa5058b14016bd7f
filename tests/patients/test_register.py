"""Registering a patient: patients.services.patient_register and its page."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import Channel, Guardian, Patient
from patients.services import LikelyDuplicate, patient_register

from ..factories import PatientFactory, StaffMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("treatments:patient_register")


def years_ago(years: int, days: int = 0) -> date:
    """The birthday `years` ago; a 29 February in a year without one is the 28th."""
    today = timezone.localdate()
    try:
        birthday = today.replace(year=today.year - years)
    except ValueError:
        birthday = today.replace(year=today.year - years, day=28)
    return birthday - timedelta(days=days)


def adult(**changes) -> dict:
    data = {
        "first_name": "Ana",
        "last_name": "Garcia",
        "date_of_birth": "1990-05-17",
        "sex": "female",
        "email": "ana@example.com",
        "phone": "(212) 555-0143",
        "preferred_channel": Channel.EMAIL,
        "language": "es",
        "reminder_consent": "on",
    }
    return {**data, **changes}


def minor(**changes) -> dict:
    data = adult(
        first_name="Leo",
        date_of_birth=years_ago(5).isoformat(),
        email="",
        phone="",
        guardian_first_name="Maria",
        guardian_last_name="Garcia",
        guardian_relationship=Guardian.Relationship.MOTHER,
        guardian_email="maria@example.com",
        guardian_phone="212 555 0177",
    )
    return {**data, **changes}


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


@pytest.mark.parametrize(
    ("role_client", "status"),
    [("receptionist_client", 200), ("manager_client", 200), ("dermatologist_client", 403)],
)
def test_only_the_front_desk_may_register(role_client, status, request):
    assert request.getfixturevalue(role_client).get(URL).status_code == status


def test_a_dermatologist_cannot_register_by_posting_either(dermatologist_client):
    assert dermatologist_client.post(URL, adult()).status_code == 403
    assert not Patient.objects.exists()


def test_the_form_has_a_label_for_every_field_and_starts_at_the_first_name(receptionist_client):
    response = receptionist_client.get(URL)
    form, html = response.context["form"], response.content.decode()
    for field in form:
        if not field.is_hidden and field.name != "allow_duplicate":
            assert f'for="{field.id_for_label}"' in html
    assert 'name="first_name"' in html
    assert "autofocus" in str(form["first_name"])


def test_an_adult_is_registered_with_a_phone_in_e164_and_consent_stamped(receptionist_client):
    response = receptionist_client.post(URL, adult(), follow=True)
    patient = Patient.objects.get()
    assert response.redirect_chain == [
        (reverse("treatments:patient_detail", args=[patient.pk]), 302)
    ]
    assert "Ana Garcia is registered." in response.content.decode()
    assert patient.phone == "+12125550143"
    assert patient.language == "es"
    assert patient.reminder_consent_changed_at is not None
    assert not patient.guardians.exists()


def test_registration_assigns_the_mrn_and_names_the_receptionist(receptionist_client):
    receptionist_client.post(URL, adult())
    patient = Patient.objects.get()
    user = receptionist_client.staff_member.user
    assert patient.mrn == f"M{patient.pk:07d}"
    assert (patient.reminder_consent_changed_by, patient.history.get().history_user) == (
        user,
        user,
    )


def test_a_patient_without_email_or_phone_is_registered_without_reminders(receptionist_client):
    data = adult(email="", phone="")
    del data["reminder_consent"]  # the box left unticked; the channel stays email
    response = receptionist_client.post(URL, data)
    assert response.status_code == 302
    patient = Patient.objects.get()
    assert (patient.email, patient.reminder_consent) == ("", False)


def test_an_adults_guardian_fields_are_ignored(receptionist_client):
    receptionist_client.post(URL, adult(guardian_first_name="Maria", guardian_last_name="X"))
    assert Patient.objects.count() == 1
    assert not Guardian.objects.exists()


def test_a_minor_is_registered_with_their_guardian_who_receives_reminders(receptionist_client):
    response = receptionist_client.post(URL, minor())
    patient = Patient.objects.get()
    guardian = Guardian.objects.get()
    assert response.status_code == 302
    assert guardian.patient == patient
    assert guardian.receives_reminders
    assert guardian.phone == "+12125550177"
    assert (guardian.first_name, guardian.relationship) == ("Maria", "mother")


def test_a_minor_without_a_guardian_is_refused_with_errors_on_the_guardian_fields(
    receptionist_client,
):
    response = receptionist_client.post(
        URL, minor(guardian_first_name="", guardian_last_name="", guardian_relationship="")
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    for field in ("guardian_first_name", "guardian_last_name", "guardian_relationship"):
        assert errors[field] == ["Required for a patient under 18."]
    assert not Patient.objects.exists()
    assert not Guardian.objects.exists()


def test_a_patient_turning_18_tomorrow_is_still_a_minor(receptionist_client):
    born = years_ago(18, days=-1)
    response = receptionist_client.post(
        URL, minor(date_of_birth=born.isoformat(), guardian_first_name="")
    )
    assert "guardian_first_name" in response.context["form"].errors
    assert not Patient.objects.exists()


def test_a_patient_18_today_is_an_adult(receptionist_client):
    receptionist_client.post(URL, adult(date_of_birth=years_ago(18).isoformat()))
    assert Patient.objects.get().is_minor is False


def test_email_reminders_for_a_minor_need_the_guardians_email(receptionist_client):
    response = receptionist_client.post(URL, minor(guardian_email=""))
    assert response.context["form"].errors["preferred_channel"] == [
        "Reminders by email need the guardian's email address."
    ]
    assert not Patient.objects.exists()


def test_without_reminders_a_patient_needs_no_email_for_the_email_channel(receptionist_client):
    """The channel defaults to email; a patient with no email address who wants no
    reminders is registered all the same (issue 14)."""
    data = adult(email="")
    del data["reminder_consent"]  # the box left unticked: a browser sends nothing

    response = receptionist_client.post(URL, data)

    assert response.status_code == 302
    patient = Patient.objects.get()
    assert (patient.email, patient.reminder_consent) == ("", False)


def test_sms_reminders_for_an_adult_need_the_patients_phone(receptionist_client):
    response = receptionist_client.post(URL, adult(preferred_channel=Channel.SMS, phone=""))
    assert response.context["form"].errors["preferred_channel"] == [
        "Reminders by SMS need the patient's phone number."
    ]
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("born", "message"),
    [
        ((timezone.localdate() + timedelta(days=1)).isoformat(), "cannot be in the future"),
        (years_ago(120, days=1).isoformat(), "more than 120 years ago"),
        ("1990-02-30", "Enter a valid date"),
        ("", "This field is required"),
    ],
)
def test_a_bad_date_of_birth_is_a_form_error(born, message, receptionist_client):
    response = receptionist_client.post(URL, adult(date_of_birth=born))
    assert response.status_code == 200
    assert message in response.context["form"].errors["date_of_birth"][0]
    assert not Patient.objects.exists()


def test_a_patient_born_exactly_120_years_ago_is_accepted(receptionist_client):
    receptionist_client.post(URL, adult(date_of_birth=years_ago(120).isoformat()))
    assert Patient.objects.exists()


def test_a_phone_that_is_not_a_number_is_a_form_error(receptionist_client):
    response = receptionist_client.post(URL, adult(phone="555"))
    assert "phone" in response.context["form"].errors
    assert not Patient.objects.exists()


def test_the_same_name_and_birthday_warns_and_writes_nothing(receptionist_client):
    existing = PatientFactory(first_name="ANA", last_name="garcia", date_of_birth=date(1990, 5, 17))
    response = receptionist_client.post(URL, adult())
    html = response.content.decode()
    assert response.status_code == 200
    assert "may already be registered" in html
    assert reverse("treatments:patient_detail", args=[existing.pk]) in html
    assert "This is a different person: register anyway" in html
    assert Patient.objects.count() == 1


def test_the_same_phone_warns_and_writes_nothing(receptionist_client):
    existing = PatientFactory(first_name="Bo", last_name="Li", phone="+12125550143")
    response = receptionist_client.post(URL, adult())
    assert response.context["duplicates"] == [existing]
    assert Patient.objects.count() == 1


def test_a_likely_duplicate_is_registered_once_the_box_is_ticked(receptionist_client):
    PatientFactory(first_name="Ana", last_name="Garcia", date_of_birth=date(1990, 5, 17))
    response = receptionist_client.post(URL, adult(allow_duplicate="on"))
    assert response.status_code == 302
    assert Patient.objects.filter(first_name="Ana", last_name="Garcia").count() == 2


def test_a_different_person_with_the_same_name_is_not_a_duplicate(receptionist_client):
    PatientFactory(first_name="Ana", last_name="Garcia", date_of_birth=date(1991, 5, 17))
    assert receptionist_client.post(URL, adult()).status_code == 302
    assert Patient.objects.count() == 2


def test_posting_without_a_csrf_token_is_forbidden():
    user = StaffMemberFactory(user=UserFactory(username="desk"), role="receptionist").user
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(URL, adult()).status_code == 403
    assert not Patient.objects.exists()


def test_the_service_refuses_a_minor_without_a_guardian():
    patient = Patient(first_name="Leo", last_name="Garcia", date_of_birth=years_ago(5))
    with pytest.raises(ValidationError, match="needs a guardian"):
        patient_register(patient=patient, guardian=None, allow_duplicate=False)
    assert not Patient.objects.exists()


def test_the_service_raises_likely_duplicate_with_the_matching_patients():
    existing = PatientFactory(first_name="Ana", last_name="Garcia", date_of_birth=date(1990, 5, 17))
    patient = Patient(
        first_name="ana", last_name="GARCIA", date_of_birth=date(1990, 5, 17), email="a@example.com"
    )
    with pytest.raises(LikelyDuplicate) as raised:
        patient_register(patient=patient, guardian=None, allow_duplicate=False)
    assert raised.value.patients == [existing]
    assert Patient.objects.count() == 1


def test_the_service_writes_no_patient_when_the_guardian_is_invalid():
    patient = Patient(first_name="Leo", last_name="Garcia", date_of_birth=years_ago(5))
    guardian = Guardian(
        first_name="Maria", last_name="Garcia", relationship="aunt", email="m@x.org"
    )
    with pytest.raises(ValidationError, match="relationship"):
        patient_register(patient=patient, guardian=guardian, allow_duplicate=False)
    assert not Patient.objects.exists()


def test_the_register_anyway_box_is_offered_only_for_a_likely_duplicate(receptionist_client):
    assert "register anyway" not in receptionist_client.get(URL).content.decode()
