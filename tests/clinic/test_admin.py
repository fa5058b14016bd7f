"""Every admin list and add page works for the clinic manager."""

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from clinic.models import ReminderTemplate

pytestmark = pytest.mark.django_db

MODEL_ADMINS = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)
# The manager reads these but does not add them: lesions are charted by dermatologists,
# heartbeats are written by beat, groups (roles) are made by a migration.
READ_ONLY_FOR_MANAGER = {
    ("patients", "lesion"),
    ("clinic", "heartbeat"),
    ("auth", "group"),
    ("clinic", "usedpatientlink"),
    ("clinic", "reminder"),
    ("patients", "patientalert"),
    ("treatments", "procedure"),
    ("treatments", "procedurelesion"),
    ("treatments", "amendment"),
    ("treatments", "followup"),
    ("treatments", "followupoutcome"),
    ("treatments", "clinicalphoto"),
    ("treatments", "photocheck"),  # sent by patients, reviewed in the app (issue 15)
    ("treatments", "selfservicepolicy"),  # one row, written by its migration (issue 15)
    ("treatments", "appointmentevent"),
    # Security (issue 6): written by the app, django-axes and enrolment, never by hand.
    ("clinic", "accesslog"),
    ("axes", "accessattempt"),
    ("axes", "accesslog"),
    ("axes", "accessfailurelog"),
    ("otp_totp", "totpdevice"),
    # Staff accounts (issue 13): staff are invited through the staff member admin.
    ("auth", "user"),
    # Patients' texts (issue 16): written by the providers' webhooks.
    ("clinic", "inboundsms"),
    # Billing (issue 20): written by the billing services, never edited by hand.
    ("treatments", "charge"),
    ("treatments", "payment"),
    ("treatments", "invoice"),
    ("treatments", "appointmentestimate"),
    # Billing documents emailed (issue 20): written by the desk's request and the task.
    ("treatments", "billingemail"),
    # Calendar feeds (issue 17): made on the dermatologist's page or by the staff member's
    # action (the address is shown once); the manager only revokes them here.
    ("clinic", "calendarfeed"),
}


@pytest.mark.parametrize(("app_label", "model_name"), MODEL_ADMINS)
def test_every_changelist_renders_for_the_manager(manager_client, app_label, model_name):
    response = manager_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize(("app_label", "model_name"), MODEL_ADMINS)
def test_every_add_page_renders_for_the_manager(manager_client, app_label, model_name):
    response = manager_client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    expected = 403 if (app_label, model_name) in READ_ONLY_FOR_MANAGER else 200
    assert response.status_code == expected


# Internal tables, written by the app alone and kept off the admin index (issue 13): the
# sweep's channel health and beat's heartbeat (both read by /healthz), used patient
# links, and the rows that tie a procedure to its lesions (shown on the procedure); the
# aftercare texts per language are edited side by side on their procedure type's page;
# the photos patients send for a photo check are shown only through the app's views.
INTERNAL_TABLES = {
    "clinic.ChannelHealth",
    "clinic.Heartbeat",
    "clinic.UsedPatientLink",
    # The schedule's version per day, which the writes bump (clinic/schedule_version.py).
    "clinic.ScheduleVersion",
    "treatments.ProcedureLesion",
    "treatments.AftercareText",
    "treatments.PhotoCheckImage",
    # The last number of each billing document series (invoices, receipts).
    "treatments.BillingSequence",
}


def test_every_clinic_model_but_the_internal_tables_has_an_admin():
    from django.apps import apps

    without_admin = {
        model._meta.label
        for label in ("clinic", "patients", "treatments")
        for model in apps.get_app_config(label).get_models()
        # A history table is shown through its model's admin.
        if not hasattr(model, "instance_type") and model not in admin.site._registry
    }
    assert without_admin == INTERNAL_TABLES


@pytest.mark.parametrize("client_fixture", ["receptionist_client", "dermatologist_client"])
def test_receptionists_and_dermatologists_stay_out_of_the_admin(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_consent_given_in_the_admin_records_when_and_by_whom(manager_client):
    from ..factories import PatientFactory

    patient = PatientFactory(reminder_consent=False)
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    form = {
        "first_name": patient.first_name, "last_name": patient.last_name,
        "date_of_birth": "1990-05-17", "sex": "female", "email": patient.email,
        "phone": str(patient.phone), "preferred_channel": "sms", "language": "en",
        "reminder_consent": "on", "payer": "self_pay",
        "guardians-TOTAL_FORMS": "0", "guardians-INITIAL_FORMS": "0",
    }  # fmt: skip

    response = manager_client.post(url, form)

    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.reminder_consent is True
    assert patient.reminder_consent_changed_at is not None
    assert patient.reminder_consent_changed_by == manager_client.staff_member.user


# --- Reminder templates side by side ------------------------------------------------------


def test_the_reminder_templates_are_shown_by_language_side_by_side(manager_client):
    ReminderTemplate.objects.all().delete()
    english = ReminderTemplate.objects.create(
        kind="confirmation", channel="sms", language="en", body_text="Booked: {{ when }}."
    )
    ReminderTemplate.objects.create(
        kind="confirmation", channel="sms", language="es", body_text="Reservada: {{ when }}."
    )
    changelist = manager_client.get(reverse("admin:clinic_remindertemplate_changelist"))
    url = reverse("admin:clinic_remindertemplate_by_language")

    page = manager_client.get(url).content.decode()

    assert url in changelist.content.decode()
    row = re.search(r"<th scope=\"row\">Booking confirmation · SMS</th>(.*?)</tr>", page, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert len(cells) == 3  # English, Spanish, French
    assert "Booked: {{ when }}." in cells[0]
    assert reverse("admin:clinic_remindertemplate_change", args=[english.pk]) in cells[0]
    assert "Reservada: {{ when }}." in cells[1]
    add = reverse("admin:clinic_remindertemplate_add")
    assert f"{add}?kind=confirmation&amp;channel=sms&amp;language=fr" in cells[2]
    assert "Missing: write it" in cells[2]


def test_the_templates_by_language_page_is_the_admins(client, receptionist_client):
    url = reverse("admin:clinic_remindertemplate_by_language")

    for visitor in (client, receptionist_client):
        response = visitor.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_the_templates_by_language_page_costs_the_same_for_few_templates_and_many(
    manager_client, django_assert_num_queries
):
    url = reverse("admin:clinic_remindertemplate_by_language")

    # session, user, their staff member (the language of their pages), the user's own and
    # their groups' permissions (may view), the templates
    with django_assert_num_queries(6):
        manager_client.get(url)
    for kind in ("appointment", "aftercare", "recurrence_check", "waitlist_offer"):
        ReminderTemplate.objects.update_or_create(
            kind=kind, channel="sms", language="fr", defaults={"body_text": "{{ when }}"}
        )
    with django_assert_num_queries(6):
        manager_client.get(url)
