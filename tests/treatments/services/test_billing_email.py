"""Emailing a billing document at the desk's request, through a real SMTP server on
loopback: the PDF attached, the body without any clinical detail, sent once."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from treatments.models import BillingEmail, Payment
from treatments.services.billing_documents import billing_email_send
from treatments.tasks import billing_email_send as billing_email_send_task

from ...clinic.test_delivery import start_worker, stop, wait_until
from ...clinic.test_outbox import smtp_server  # noqa: F401 - the fixture
from ...factories import GuardianFactory, PatientFactory
from ..views.test_billing_documents import visit_day  # noqa: F401 - the fixture
from .test_billing import (  # noqa: F401 - fixtures
    clock,
    consultation,
    prices,
    today,
)

pytestmark = pytest.mark.django_db
# Words that would tell a reader of the email what was treated or found.
CLINICAL = ["L72", "L70", "17111", "99213", "cyst", "acne", "destruction", "lesion", "milia"]


def ask(client, patient, **document):
    return client.post(reverse("treatments:billing_email", args=[patient.pk]), document)


def attachment(message) -> tuple[str, bytes]:
    [part] = [part for part in message.walk() if part.get_filename()]
    return part.get_filename(), part.get_payload(decode=True)


def test_a_superbill_goes_to_the_patient_as_a_pdf_with_a_plain_body(
    receptionist_client,
    visit_day,  # noqa: F811
    smtp_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    patient, day = visit_day["patient"], visit_day["day"]
    with django_capture_on_commit_callbacks() as queued:
        response = ask(
            receptionist_client, patient, document="superbill", service_date=day.isoformat()
        )
    assert response.status_code == 302
    assert len(queued) == 1  # the task is queued once the request's transaction commits
    assert billing_email_send_task(BillingEmail.objects.get().pk) == "sent"  # the worker's run
    [message] = smtp_server.messages
    assert message["To"] == f"Maya Lindqvist <{patient.email}>"
    assert message["Subject"] == "Your superbill from Your clinic"
    filename, pdf = attachment(message)
    assert filename == f"superbill-{day}.pdf"
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "17111" in text and "L72.0" in text  # the details are in the PDF...
    body = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    words = (message["Subject"] + body.get_payload(decode=True).decode()).lower()
    assert "superbill" in words
    assert not [word for word in CLINICAL if word.lower() in words]  # ...not in the email
    row = BillingEmail.objects.get()
    assert (row.status, row.requested_by) == ("sent", receptionist_client.staff_member.user)
    assert row.sent_at is not None


def test_a_receipt_for_a_minor_goes_to_the_guardian_in_their_language(
    receptionist_client,
    visit_day,  # noqa: F811
    smtp_server,  # noqa: F811
):
    patient, payment = visit_day["patient"], visit_day["payment"]
    patient.date_of_birth = visit_day["day"].replace(year=visit_day["day"].year - 9)
    patient.save()
    guardian = GuardianFactory(
        patient=patient, first_name="Ines", last_name="Lindqvist", language="es"
    )
    ask(receptionist_client, patient, document="receipt", payment=payment.pk)
    billing_email_send_task(BillingEmail.objects.get().pk)
    [message] = smtp_server.messages
    assert message["To"] == f"Ines Lindqvist <{guardian.email}>"
    filename, pdf = attachment(message)
    assert filename == f"receipt-{payment.receipt_number}.pdf"
    assert pdf.startswith(b"%PDF-")
    assert BillingEmail.objects.get().language == "es"


def test_the_task_run_twice_sends_once(
    receptionist_client,
    visit_day,  # noqa: F811
    smtp_server,  # noqa: F811
):
    ask(
        receptionist_client,
        visit_day["patient"],
        document="receipt",
        payment=visit_day["payment"].pk,
    )
    row = BillingEmail.objects.get()
    assert billing_email_send_task(row.pk) == "sent"
    assert billing_email_send_task(row.pk) == "sent"
    assert len(smtp_server.messages) == 1


def test_a_refusing_server_marks_it_failed_with_the_reason(
    receptionist_client,
    visit_day,  # noqa: F811
    smtp_server,  # noqa: F811
):
    patient = visit_day["patient"]
    smtp_server.refuse_recipient[patient.email] = ["550 No such mailbox"]
    ask(receptionist_client, patient, document="receipt", payment=visit_day["payment"].pk)
    row = billing_email_send(email_id=BillingEmail.objects.get().pk)
    assert (row.status, row.sent_at) == ("failed", None)
    assert row.error == "SMTPRecipientsRefused"
    assert smtp_server.messages == []


def test_a_patient_without_an_email_address_is_told_so_and_nothing_is_queued(
    receptionist_client,
    visit_day,  # noqa: F811
):
    patient = visit_day["patient"]
    patient.email = ""
    patient.save()
    response = ask(
        receptionist_client, patient, document="receipt", payment=visit_day["payment"].pk
    )
    assert response.status_code == 400
    assert "no email address" in response.content.decode()
    assert not BillingEmail.objects.exists()


@pytest.mark.parametrize(
    "document",
    [
        {"document": "receipt"},  # which payment?
        {"document": "superbill", "service_date": "not a date"},
        {"document": "letter"},
        {"document": "invoice", "invoice": "999999"},
    ],
)
def test_a_request_that_names_no_document_of_the_patient_is_a_400(
    receptionist_client,
    visit_day,  # noqa: F811
    document,
):
    response = ask(receptionist_client, visit_day["patient"], **document)
    assert response.status_code == 400
    assert not BillingEmail.objects.exists()


def test_another_patients_receipt_cannot_be_sent_through_this_one(
    receptionist_client,
    visit_day,  # noqa: F811
):
    from ...factories import PatientFactory

    other = PatientFactory()
    response = ask(receptionist_client, other, document="receipt", payment=visit_day["payment"].pk)
    assert response.status_code == 400
    assert not BillingEmail.objects.exists()


@pytest.mark.parametrize("role", ["anonymous", "dermatologist"])
def test_only_the_desk_emails_documents(
    as_role,
    visit_day,  # noqa: F811
    role,
):
    response = ask(
        as_role(role), visit_day["patient"], document="receipt", payment=visit_day["payment"].pk
    )
    assert response.status_code == (302 if role == "anonymous" else 403)
    assert not BillingEmail.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_sends_the_receipt_the_desk_asked_for(
    smtp_server,  # noqa: F811
    receptionist_client,
):
    """The request commits, its task goes through the broker to a worker process."""
    patient = PatientFactory()
    # Written as it stands (the service would first want a balance to pay).
    payment = Payment.objects.create(
        receipt_number="R-WORKER-1",
        patient=patient,
        amount="10.00",
        method=Payment.Method.CASH,
        received_by=receptionist_client.staff_member.user,
    )
    worker = start_worker(CLINIC_TEST_EMAIL_URL=smtp_server.url)
    try:
        ask(receptionist_client, patient, document="receipt", payment=payment.pk)
        wait_until(lambda: len(smtp_server.messages) == 1, what="the worker to send it")
    finally:
        stop(worker)
    filename, pdf = attachment(smtp_server.messages[0])
    assert (filename, pdf[:5]) == ("receipt-R-WORKER-1.pdf", b"%PDF-")
    assert BillingEmail.objects.get().status == "sent"
