"""The audit trail: change history carries the user, the access log records each look."""

import pytest
from django.test import Client
from django.urls import reverse

from clinic.audit import client_ip_address
from clinic.models import AccessLog
from patients.models import Patient

from ..factories import PatientFactory
from .test_access_matrix import clinic, private_media  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_change_through_a_view_is_in_the_history_with_its_user(receptionist_client):
    response = receptionist_client.post(
        reverse("treatments:patient_register"),
        {
            "first_name": "Ada",
            "last_name": "Byron",
            "date_of_birth": "1990-01-02",
            "sex": "female",
            "email": "ada@example.com",
            "phone": "+12125550199",
            "preferred_channel": "email",
            "language": "en",
            "reminder_consent": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    patient = Patient.objects.get(last_name="Byron")
    assert patient.history.first().history_user == receptionist_client.staff_member.user


def test_a_change_through_the_admin_is_in_the_history_with_its_user(manager_client):
    patient = PatientFactory(first_name="Old")
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    form = manager_client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "first_name": "New",
            "guardians-TOTAL_FORMS": "0",
            "guardians-INITIAL_FORMS": "0",
        }
    )
    data = {key: value for key, value in data.items() if value is not False}
    if data.get("reminder_consent") is True:
        data["reminder_consent"] = "on"
    response = manager_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    latest = patient.history.first()
    assert latest.first_name == "New"
    assert latest.history_user == manager_client.staff_member.user


def test_a_chart_view_writes_an_access_log_row(dermatologist_client, clinic):  # noqa: F811
    AccessLog.objects.all().delete()
    response = dermatologist_client.get(
        reverse("treatments:patient_chart", args=[clinic["patient"].pk])
    )
    assert response.status_code == 200
    entry = AccessLog.objects.get()
    assert entry.action == AccessLog.Action.CHART_VIEW
    assert entry.user == dermatologist_client.staff_member.user
    assert entry.patient == clinic["patient"]
    assert entry.path == reverse("treatments:patient_chart", args=[clinic["patient"].pk])
    assert entry.ip_address == "127.0.0.1"


def test_a_refused_chart_view_writes_none(receptionist_client, clinic):  # noqa: F811
    AccessLog.objects.all().delete()
    response = receptionist_client.get(
        reverse("treatments:patient_chart", args=[clinic["patient"].pk])
    )
    assert response.status_code == 403
    assert not AccessLog.objects.exists()


def test_an_older_visits_page_is_logged_as_a_chart_view_with_its_link(
    dermatologist_client,
    clinic,  # noqa: F811
):
    AccessLog.objects.all().delete()
    url = reverse("treatments:patient_chart", args=[clinic["patient"].pk])
    before = clinic["patient"].appointments.latest("starts_at").pk
    assert dermatologist_client.get(url, {"before": before}).status_code == 200
    entry = AccessLog.objects.get()
    assert (entry.action, entry.patient) == (AccessLog.Action.CHART_VIEW, clinic["patient"])
    assert entry.path == f"{url}?before={before}"


def test_a_damaged_older_visits_link_writes_none(dermatologist_client, clinic):  # noqa: F811
    AccessLog.objects.all().delete()
    url = reverse("treatments:patient_chart", args=[clinic["patient"].pk])
    assert dermatologist_client.get(url, {"before": "x"}).status_code == 400
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("treatments:photo_image", "photo_view"),
        ("treatments:photo_thumbnail", "photo_view"),
        ("treatments:lesion_compare", "photo_view"),
        ("treatments:procedure_detail", "record_view"),
        ("treatments:procedure_handout", "handout_view"),
    ],
)
def test_photo_record_and_handout_views_are_logged(manager_client, clinic, name, action):  # noqa: F811
    from .test_access_matrix import url_for

    AccessLog.objects.all().delete()
    assert manager_client.get(url_for(name, clinic)).status_code == 200
    entry = AccessLog.objects.get()
    assert (entry.action, entry.patient) == (action, clinic["patient"])


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.7", "10.0.0.1"),  # no proxy: the header is anyone's to forge
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the left entry is the client's claim
        (2, "203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (1, "", "10.0.0.1"),
    ],
)
def test_the_address_is_taken_from_trusted_proxies_only(rf, settings, proxies, forwarded, expected):
    settings.CLINIC_TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.1")
    assert client_ip_address(request) == expected


def test_the_access_log_cannot_be_added_changed_or_deleted_in_the_admin(
    manager_client,
    clinic,  # noqa: F811
):
    superuser = Client()
    from ..factories import UserFactory

    superuser.force_login(UserFactory(is_staff=True, is_superuser=True))
    manager_client.get(reverse("treatments:patient_chart", args=[clinic["patient"].pk]))
    entry = AccessLog.objects.get()
    for client in (manager_client, superuser):
        assert client.get(reverse("admin:clinic_accesslog_changelist")).status_code == 200
        assert client.get(reverse("admin:clinic_accesslog_add")).status_code == 403
        assert client.post(reverse("admin:clinic_accesslog_add"), {}).status_code == 403
        change = reverse("admin:clinic_accesslog_change", args=[entry.pk])
        assert client.post(change, {"path": "/forged/"}).status_code == 403
        delete = reverse("admin:clinic_accesslog_delete", args=[entry.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.path != "/forged/"


def test_the_manager_searches_the_access_log_by_patient(manager_client, clinic):  # noqa: F811
    manager_client.get(reverse("treatments:patient_chart", args=[clinic["patient"].pk]))
    response = manager_client.get(
        reverse("admin:clinic_accesslog_changelist"), {"q": clinic["patient"].last_name}
    )
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
