"""The desk's inbox of patients' texts (/sms/inbox/): what it lists and in which order,
marking a text handled, who may see it, its access-log rows and its query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import AccessLog, InboundSms

from ...factories import PatientFactory

pytestmark = pytest.mark.django_db
INBOX = "/sms/inbox/"


def text(*, body="Can I come later?", patient=None, minutes_ago=0, handled=False, **fields):
    received = timezone.now() - timedelta(minutes=minutes_ago)
    return InboundSms.objects.create(
        provider="twilio",
        provider_message_id=f"SM{InboundSms.objects.count() + 1:032x}",
        sender="+12125550123",
        recipient="+12125550000",
        body=body,
        received_at=received,
        patient=patient,
        handled_at=received if handled else None,
        action=InboundSms.Action.REMINDERS_STOPPED if handled else InboundSms.Action.FOR_THE_DESK,
        **fields,
    )


def test_the_inbox_lists_texts_to_handle_first_with_their_patients_linked(receptionist_client):
    patient = PatientFactory(first_name="Ana", last_name="Ruiz")
    text(body="Baja, gracias", patient=patient, minutes_ago=1, handled=True)
    text(body="Old question", minutes_ago=60)
    text(body="Running late, sorry", patient=patient, minutes_ago=5)

    response = receptionist_client.get(reverse("treatments:sms_inbox"))

    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("Running late") < page.index("Old question") < page.index("Baja, gracias")
    assert f'href="/patients/{patient.pk}/">Ana Ruiz</a>' in page
    assert page.count("Mark handled") == 2
    assert "Reminders stopped" in page and "on arrival" in page


def test_the_inbox_writes_an_access_log_row_for_each_patient_named(receptionist_client):
    named, other = PatientFactory(), PatientFactory()
    text(patient=named)
    text(patient=named, minutes_ago=2)
    text(patient=other, minutes_ago=3)
    text(minutes_ago=4)  # nobody known

    receptionist_client.get(INBOX)

    rows = AccessLog.objects.filter(detail="SMS inbox")
    assert sorted(rows.values_list("patient_id", flat=True)) == sorted([named.pk, other.pk])
    assert set(rows.values_list("user", "action")) == {
        (receptionist_client.staff_member.user.pk, AccessLog.Action.RECORD_VIEW)
    }


def test_an_empty_inbox_says_so(manager_client):
    response = manager_client.get(INBOX)
    assert "No texts from patients yet." in response.content.decode()
    assert not AccessLog.objects.exists()


def test_marking_a_text_handled_records_who_and_when(receptionist_client):
    message = text()

    response = receptionist_client.post(reverse("treatments:sms_mark_handled", args=[message.pk]))

    assert response.status_code == 302
    message.refresh_from_db()
    assert message.handled_by == receptionist_client.staff_member.user
    assert message.handled_at is not None


def test_marking_a_handled_text_again_keeps_the_first_mark(receptionist_client, manager_client):
    message = text()
    manager_client.post(reverse("treatments:sms_mark_handled", args=[message.pk]))
    message.refresh_from_db()
    first = (message.handled_by, message.handled_at)

    response = receptionist_client.post(
        reverse("treatments:sms_mark_handled", args=[message.pk]), follow=True
    )

    assert "marked that text handled already" in response.content.decode()
    message.refresh_from_db()
    assert (message.handled_by, message.handled_at) == first


def test_marking_a_text_that_does_not_exist_is_a_404(receptionist_client):
    response = receptionist_client.post(reverse("treatments:sms_mark_handled", args=[999]))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("receptionist", 200), ("dermatologist", 403), ("manager", 200)],
)
def test_the_inbox_is_the_front_desks(as_role, role, status):
    text(patient=PatientFactory())
    assert as_role(role).get(INBOX).status_code == status


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("dermatologist", 403)])
def test_only_the_front_desk_marks_texts_handled(as_role, role, status):
    message = text()
    response = as_role(role).post(reverse("treatments:sms_mark_handled", args=[message.pk]))
    assert response.status_code == status
    message.refresh_from_db()
    assert message.handled_at is None


def test_the_nav_shows_the_inbox_to_the_desk_only(receptionist_client, dermatologist_client):
    assert 'href="/sms/inbox/"' in receptionist_client.get("/").content.decode()
    assert 'href="/sms/inbox/"' not in dermatologist_client.get("/").content.decode()


def queries_of(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_the_inbox_costs_the_same_for_one_text_and_a_full_page(receptionist_client):
    text(patient=PatientFactory())
    receptionist_client.get(INBOX)
    # session, user, staff member (role check), the count for the pages, one page of texts
    # with their patients and who handled them, the access-log rows (one insert)
    one = queries_of(lambda: receptionist_client.get(INBOX))
    for minutes in range(1, 60):
        text(patient=PatientFactory(), minutes_ago=minutes, handled=minutes % 2 == 0)
    assert one == 6
    assert queries_of(lambda: receptionist_client.get(INBOX)) == one
