"""The record's pages at the desk: editing a patient, their guardians, and the patient
page's Edit link and History, with their access rules and query counts."""

from datetime import date

import pytest
from django.urls import reverse

from clinic.models import AccessLog
from patients.models import Guardian, Patient
from patients.services import patient_register, patient_set_reminder_consent

from ..factories import GuardianFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient() -> Patient:
    """Ana, who stopped her email reminders with the link in one of them."""
    ana = patient_register(
        patient=Patient(
            first_name="Ana",
            last_name="Garcia",
            date_of_birth=date(1990, 5, 17),
            email="ana@example.com",
            phone="+12125550143",
            reminder_consent=True,
        ),
        guardian=None,
        allow_duplicate=True,
    )
    return patient_set_reminder_consent(patient=ana, consent=False, reason="Stop link")


@pytest.fixture
def minor() -> Patient:
    return GuardianFactory(first_name="Maria", last_name="Garcia").patient


def edit_url(patient: Patient) -> str:
    return reverse("treatments:patient_edit", args=[patient.pk])


def detail_url(patient: Patient) -> str:
    return reverse("treatments:patient_detail", args=[patient.pk])


def form_data(patient: Patient, **changes) -> dict:
    """What the edit page's form posts for the patient as saved, with `changes`."""
    data = {
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "address_line_1": patient.address_line_1,
        "address_line_2": patient.address_line_2,
        "city": patient.city,
        "region": patient.region,
        "postal_code": patient.postal_code,
        "country": patient.country,
        "email": patient.email,
        "phone": str(patient.phone),
        "preferred_channel": patient.preferred_channel,
        "language": patient.language,
        "payer": patient.payer,
        "insurer_name": patient.insurer_name,
        "insurance_member_id": patient.insurance_member_id,
        "seen_at": patient.updated_at.isoformat(),
    }
    if patient.reminder_consent:
        data["reminder_consent"] = "on"
    data |= changes
    return {name: value for name, value in data.items() if value is not None}


# --- Who may ---


def test_anonymous_visitors_are_sent_to_log_in(client, patient):
    response = client.get(edit_url(patient))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role_client", "status"),
    [("receptionist_client", 200), ("manager_client", 200), ("dermatologist_client", 403)],
)
def test_the_front_desk_edits_and_dermatologists_only_read(role_client, status, request, patient):
    assert request.getfixturevalue(role_client).get(edit_url(patient)).status_code == status


def test_a_dermatologist_cannot_edit_by_posting_either(dermatologist_client, patient):
    response = dermatologist_client.post(edit_url(patient), form_data(patient, city="Springfield"))
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.city == ""


def test_a_patient_that_does_not_exist_is_not_found(receptionist_client, patient):
    assert receptionist_client.get(reverse("treatments:patient_edit", args=[0])).status_code == 404
    assert receptionist_client.get(reverse("treatments:guardian_edit", args=[0])).status_code == 404
    assert receptionist_client.get(reverse("treatments:guardian_add", args=[0])).status_code == 404
    assert (
        receptionist_client.post(reverse("treatments:guardian_remove", args=[0])).status_code == 404
    )


@pytest.mark.parametrize("name", ["guardian_remove", "guardian_make_recipient"])
def test_guardian_buttons_only_post(receptionist_client, minor, name):
    guardian = minor.guardians.get()
    assert (
        receptionist_client.get(reverse(f"treatments:{name}", args=[guardian.pk])).status_code
        == 405
    )


@pytest.mark.parametrize("name", ["guardian_remove", "guardian_make_recipient"])
def test_a_dermatologist_cannot_press_the_guardian_buttons(dermatologist_client, minor, name):
    guardian = minor.guardians.get()
    response = dermatologist_client.post(reverse(f"treatments:{name}", args=[guardian.pk]))
    assert response.status_code == 403
    assert Guardian.objects.filter(pk=guardian.pk, receives_reminders=True).exists()


def test_only_the_front_desk_is_offered_the_edit_link(
    receptionist_client, manager_client, dermatologist_client, patient
):
    link = f'href="{edit_url(patient)}"'
    assert link in receptionist_client.get(detail_url(patient)).content.decode()
    assert link in manager_client.get(detail_url(patient)).content.decode()
    assert link not in dermatologist_client.get(detail_url(patient)).content.decode()


# --- Editing the record ---


def test_the_edit_page_shows_the_mrn_and_the_record(receptionist_client, patient):
    html = receptionist_client.get(edit_url(patient)).content.decode()
    assert patient.mrn in html
    assert 'value="ana@example.com"' in html


def test_the_desk_changes_the_phone_and_turns_reminders_back_on(receptionist_client, patient):
    response = receptionist_client.post(
        edit_url(patient),
        form_data(patient, phone="(212) 555-0199", reminder_consent="on", city="Springfield"),
    )
    assert response.status_code == 302
    assert response["Location"] == detail_url(patient)
    patient.refresh_from_db()
    assert (str(patient.phone), patient.reminder_consent) == ("+12125550199", True)
    assert patient.city == "Springfield"
    assert patient.reminder_consent_changed_by == receptionist_client.staff_member.user


def test_the_patient_page_shows_the_change_in_its_history(receptionist_client, patient):
    receptionist_client.post(
        edit_url(patient), form_data(patient, phone="+12125550199", reminder_consent="on")
    )
    user = receptionist_client.staff_member.user
    html = receptionist_client.get(detail_url(patient)).content.decode()
    assert "Changed: Phone, Reminder consent (given)" in html
    assert user.get_full_name() in html
    assert "Stop link" in html  # who withdrew it before: the patient, by the link
    assert f"recorded by {user.get_full_name()}" in html


def test_insurance_is_entered_and_shown(receptionist_client, patient):
    receptionist_client.post(
        edit_url(patient),
        form_data(
            patient, payer="insurance", insurer_name="Blue Cross", insurance_member_id="XQ-1"
        ),
    )
    html = receptionist_client.get(detail_url(patient)).content.decode()
    assert "Blue Cross, member ID XQ-1" in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"phone": "not a phone"}, "phone", "Enter a valid phone number"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "cannot be in the future"),
        ({"payer": "insurance"}, "insurer_name", "Insurance needs the insurer's name."),
        (
            {"email": "", "reminder_consent": "on"},
            "preferred_channel",
            "Reminders by email need the patient's email address.",
        ),
    ],
)
def test_a_bad_value_is_a_form_error_and_nothing_is_written(
    receptionist_client, patient, changes, field, message
):
    response = receptionist_client.post(
        edit_url(patient), form_data(patient, city="Springfield", **changes)
    )
    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors[field])
    patient.refresh_from_db()
    assert (patient.city, patient.email, patient.reminder_consent) == (
        "",
        "ana@example.com",
        False,
    )


def test_a_change_saved_meanwhile_at_another_desk_is_a_conflict(receptionist_client, patient):
    stale = form_data(patient, city="Shelbyville")
    receptionist_client.post(edit_url(patient), form_data(patient, city="Springfield"))
    response = receptionist_client.post(edit_url(patient), stale)
    assert response.status_code == 409
    assert "Someone else changed this patient's record meanwhile" in str(
        response.context["form"].non_field_errors()[0]
    )
    assert "Someone else changed this patient&#x27;s record meanwhile" in response.content.decode()
    patient.refresh_from_db()
    assert patient.city == "Springfield"


def test_a_damaged_version_field_is_a_form_error(receptionist_client, patient):
    response = receptionist_client.post(edit_url(patient), form_data(patient, seen_at="soon"))
    assert response.status_code == 400


# --- Guardians ---


def test_a_guardian_is_added(receptionist_client, patient):
    response = receptionist_client.post(
        reverse("treatments:guardian_add", args=[patient.pk]),
        {
            "first_name": "Maria",
            "last_name": "Garcia",
            "relationship": "mother",
            "email": "maria@example.com",
            "phone": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == edit_url(patient)
    guardian = patient.guardians.get()
    assert (guardian.first_name, guardian.receives_reminders) == ("Maria", True)


def test_a_guardian_without_a_contact_is_a_form_error(receptionist_client, patient):
    response = receptionist_client.post(
        reverse("treatments:guardian_add", args=[patient.pk]),
        {"first_name": "Maria", "last_name": "Garcia", "relationship": "mother"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [
        "Give the guardian's email or phone number."
    ]
    assert not patient.guardians.exists()


def test_a_guardian_is_edited(receptionist_client, minor):
    guardian = minor.guardians.get()
    response = receptionist_client.post(
        reverse("treatments:guardian_edit", args=[guardian.pk]),
        {
            "first_name": "Marie",
            "last_name": "Garcia",
            "relationship": "mother",
            "email": "marie@example.com",
            "phone": "",
        },
    )
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert (guardian.first_name, guardian.email) == ("Marie", "marie@example.com")


def test_the_reminders_are_switched_to_another_guardian(receptionist_client, minor):
    mother = minor.guardians.get()
    father = GuardianFactory(patient=minor, first_name="Luis", receives_reminders=False)
    response = receptionist_client.post(
        reverse("treatments:guardian_make_recipient", args=[father.pk])
    )
    assert response.status_code == 302
    assert list(minor.guardians.filter(receives_reminders=True)) == [father]
    html = receptionist_client.get(detail_url(minor)).content.decode()
    assert "Guardian changed: Luis" in html
    assert f"Guardian changed: {mother.first_name} {mother.last_name}" in html


def test_a_guardian_is_removed(receptionist_client, minor):
    mother = minor.guardians.get()
    father = GuardianFactory(patient=minor, receives_reminders=False)
    receptionist_client.post(reverse("treatments:guardian_make_recipient", args=[father.pk]))
    response = receptionist_client.post(reverse("treatments:guardian_remove", args=[mother.pk]))
    assert response.status_code == 302
    assert list(minor.guardians.all()) == [father]


def test_removing_a_minors_only_guardian_is_refused_with_the_reason(receptionist_client, minor):
    guardian = minor.guardians.get()
    response = receptionist_client.post(reverse("treatments:guardian_remove", args=[guardian.pk]))
    assert response.status_code == 400
    assert "A patient under 18 needs a guardian" in response.content.decode()
    assert minor.guardians.get() == guardian


# --- The access log ---


@pytest.mark.parametrize("url", [detail_url, edit_url])
def test_the_record_pages_write_an_access_log_row(receptionist_client, patient, url):
    receptionist_client.get(url(patient))
    entry = AccessLog.objects.get()
    assert (entry.patient, entry.user) == (patient, receptionist_client.staff_member.user)
    assert entry.action == AccessLog.Action.RECORD_VIEW


def test_a_refused_look_writes_no_row(dermatologist_client, patient):
    dermatologist_client.get(edit_url(patient))
    assert not AccessLog.objects.exists()


# --- Query counts ---


@pytest.mark.parametrize("guardians", [1, 10])
def test_the_edit_page_costs_the_same_for_one_or_many_guardians(
    guardians, receptionist_client, minor, django_assert_num_queries
):
    for _ in range(guardians - 1):
        GuardianFactory(patient=minor, receives_reminders=False)
    # 1 session, 2 user, 3 staff member (role check), 4 the patient, 5 the guardians,
    # 6 the access-log row.
    with django_assert_num_queries(6):
        response = receptionist_client.get(edit_url(minor))
    assert len(response.context["guardians"]) == guardians


@pytest.mark.parametrize("changes", [1, 15])
def test_the_patient_page_costs_the_same_however_long_the_history(
    changes, receptionist_client, patient, django_assert_num_queries
):
    for number in range(changes):
        receptionist_client.post(
            edit_url(patient), form_data(patient, city=f"Springfield {number}")
        )
        patient.refresh_from_db()
    # 1 session, 2 user, 3 staff member, 4 the patient with who changed their consent,
    # 5 appointments, 6 the balance (for the desk), 7 the record's history with its
    # users, 8 the guardians' history, 9 the guardians, 10 the access-log row.
    with django_assert_num_queries(10):
        response = receptionist_client.get(detail_url(patient))
    # Registered, the link's withdrawal, and each change.
    assert len(response.context["history"]) == 2 + changes


def test_the_guardian_buttons_are_offered_on_the_edit_page(receptionist_client, minor):
    father = GuardianFactory(patient=minor, receives_reminders=False)
    html = receptionist_client.get(edit_url(minor)).content.decode()
    assert reverse("treatments:guardian_make_recipient", args=[father.pk]) in html
    assert reverse("treatments:guardian_remove", args=[father.pk]) in html
    assert reverse("treatments:guardian_add", args=[minor.pk]) in html


def test_the_search_page_finds_the_patient_by_mrn_and_shows_it(receptionist_client, patient):
    response = receptionist_client.get(reverse("treatments:patient_search"), {"q": patient.mrn})
    assert response.context["patients"] == [patient]
    assert f"<td>{patient.mrn}</td>" in response.content.decode()


def test_a_refused_guardian_step_shows_the_record_and_logs_the_look(receptionist_client, minor):
    guardian = minor.guardians.get()
    receptionist_client.post(reverse("treatments:guardian_remove", args=[guardian.pk]))
    assert AccessLog.objects.get().patient == minor


def test_a_conflict_on_the_edit_page_logs_the_look_too(receptionist_client, patient):
    stale = form_data(patient, city="Shelbyville")
    receptionist_client.post(edit_url(patient), form_data(patient, city="Springfield"))
    assert not AccessLog.objects.exists()  # a saved form redirects: nothing shown
    assert receptionist_client.post(edit_url(patient), stale).status_code == 409
    assert AccessLog.objects.get().patient == patient
