"""Patients' replies by SMS, through the providers' webhooks as they post them
(treatments/services/sms_replies.py, views/sms.py): the signature, each keyword in each
language, guardians, numbers that find nobody or several patients, repeated deliveries,
and a reply that stops the reminders of a visit already reminded of.

The clock is a Monday morning in May 2026 (clinic time, New York); visits are that Friday.
"""

import base64
import hashlib
import hmac
import logging
from datetime import date, datetime
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import InboundSms, Reminder, StaffMember
from clinic.outbox import CONSENT_WITHDRAWN, reminders_send_due
from patients.models import Patient
from treatments.models import Appointment, AppointmentEvent
from treatments.services import appointment_book
from treatments.services.sms_replies import (
    ALREADY_CONFIRMED,
    CONFIRMED_BY_SMS,
    NO_VISIT,
    NOBODY,
    SEVERAL,
    STARTED_BY_SMS,
    STOPPED_BY_SMS,
)

from ...factories import AppointmentFactory, GuardianFactory, PatientFactory, StaffMemberFactory
from .test_double_booking import run_together

Action = InboundSms.Action
AUTH_TOKEN = "twilio-test-auth-token"
CLINIC_NUMBER = "+12125550000"
PATIENT_NUMBER = "+12125550123"


def at(*fields) -> datetime:
    return timezone.make_aware(datetime(*fields))


MONDAY_9 = at(2026, 5, 4, 9, 0)
FRIDAY_10 = at(2026, 5, 8, 10, 0)


@pytest.fixture
def clock(db):
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def provider_secrets(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.CLINIC_BASE_URL = "https://clinic.example.org"
    settings.VONAGE_SIGNATURE_SECRET = "vonage-test-secret"
    settings.VONAGE_SIGNATURE_METHOD = "sha256"


def signed_by_twilio(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """Twilio's documented steps: the full URL, then each POST parameter sorted by name as
    name + value; HMAC-SHA1 keyed with the auth token; base64."""
    text = url + "".join(name + form[name] for name in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


_sids = iter(range(1, 1_000_000))


def twilio_form(body: str, sender: str = PATIENT_NUMBER, sid: str = "") -> dict[str, str]:
    return {
        "MessageSid": sid or f"SM{next(_sids):032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": CLINIC_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }


def post_twilio(form: dict[str, str], signature: str | None = "sign", client=None):
    path = reverse("treatments:sms_inbound_twilio")
    if signature == "sign":
        signature = signed_by_twilio(f"https://clinic.example.org{path}", form)
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return (client or Client()).post(path, form, headers=headers)


def reply(body: str, sender: str = PATIENT_NUMBER) -> InboundSms:
    response = post_twilio(twilio_form(body, sender))
    assert response.status_code == 200
    return InboundSms.objects.latest("id")


def consenting(**fields) -> Patient:
    fields.setdefault("phone", PATIENT_NUMBER)
    return PatientFactory(
        reminder_consent=True, reminder_consent_changed_at=at(2026, 1, 1, 9), **fields
    )


def visit_on_friday(patient: Patient, **fields) -> Appointment:
    return AppointmentFactory(patient=patient, starts_at=FRIDAY_10, **fields)


# --- The signature --------------------------------------------------------------------


def test_a_signed_twilio_webhook_is_kept_and_answered_with_empty_twiml(clock):
    patient = consenting()
    response = post_twilio(twilio_form("Can I come an hour later?"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content.decode().endswith("<Response/>")
    message = InboundSms.objects.get()
    assert (message.sender, message.recipient, message.body) == (
        PATIENT_NUMBER,
        CLINIC_NUMBER,
        "Can I come an hour later?",
    )
    assert (message.patient, message.action, message.handled_at) == (
        patient,
        Action.FOR_THE_DESK,
        None,
    )


@pytest.mark.parametrize(
    "signature",
    [
        None,  # missing
        "",
        "bm90IGEgc2lnbmF0dXJl",
        # signed with another account's token
        signed_by_twilio("https://clinic.example.org/sms/inbound/twilio/", {}, token="other"),
    ],
    ids=["missing", "empty", "wrong", "other-token"],
)
def test_a_twilio_webhook_without_a_good_signature_is_refused_and_nothing_is_kept(clock, signature):
    patient = consenting()
    response = post_twilio(twilio_form("STOP"), signature=signature)

    assert response.status_code == 403
    assert not InboundSms.objects.exists()
    patient.refresh_from_db()
    assert patient.reminder_consent is True


def test_a_signature_over_other_words_is_refused(clock):
    consenting()
    form = twilio_form("C")
    signature = signed_by_twilio(
        "https://clinic.example.org/sms/inbound/twilio/", {**form, "Body": "STOP"}
    )
    assert post_twilio(form, signature=signature).status_code == 403
    assert not InboundSms.objects.exists()


def test_without_an_auth_token_every_twilio_webhook_is_refused(clock, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    form = twilio_form("STOP")
    signature = signed_by_twilio("https://clinic.example.org/sms/inbound/twilio/", form, token="")
    assert post_twilio(form, signature=signature).status_code == 403


def test_a_signed_webhook_without_a_message_id_is_a_400(clock):
    form = twilio_form("C")
    del form["MessageSid"]
    response = post_twilio(form)
    assert response.status_code == 400
    assert not InboundSms.objects.exists()


def test_the_webhook_needs_no_csrf_token_and_answers_only_post(clock):
    consenting()
    client = Client(enforce_csrf_checks=True)
    assert post_twilio(twilio_form("Hello"), client=client).status_code == 200
    assert client.get(reverse("treatments:sms_inbound_twilio")).status_code == 405


def test_the_signed_url_is_the_one_given_to_twilio_query_string_included(clock):
    consenting()
    path = reverse("treatments:sms_inbound_twilio") + "?clinic=main"
    form = twilio_form("Hello")
    signature = signed_by_twilio(f"https://clinic.example.org{path}", form)

    response = Client().post(path, form, headers={"X-Twilio-Signature": signature})

    assert response.status_code == 200
    unsigned_query = signed_by_twilio("https://clinic.example.org/sms/inbound/twilio/", form)
    refused = Client().post(path, form, headers={"X-Twilio-Signature": unsigned_query})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"Body": "x" * 5000}, 200),
        ({"Body": "Gracias 😊 por todo, ¿a qué hora?"}, 200),
        ({"Body": ""}, 200),
        ({"From": "not a number at all, far too long for a phone"}, 200),
        ({"MessageSid": "SM" + "9" * 200}, 400),
        ({"From": ""}, 400),
        ({"Body": "STOP\x00"}, 400),  # a control character: refused for every form
    ],
    ids=["long", "emoji", "empty", "odd-sender", "long-id", "no-sender", "nul"],
)
def test_a_signed_webhook_with_odd_values_is_kept_or_refused_never_a_500(clock, changes, status):
    consenting()
    form = {**twilio_form("C"), **changes}

    assert post_twilio(form).status_code == status
    assert InboundSms.objects.count() == (1 if status == 200 else 0)


# --- Keywords ---------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["C", "c", "SI", "Sí", "OUI", "oui", "YES", "Confirm"])
def test_a_confirm_reply_in_each_language_confirms_the_next_visit_as_by_the_patient(clock, word):
    patient = consenting()
    next_visit = visit_on_friday(patient)
    later = AppointmentFactory(patient=patient, starts_at=at(2026, 5, 20, 10, 0))

    message = reply(word)

    next_visit.refresh_from_db()
    later.refresh_from_db()
    assert (next_visit.status, later.status) == ("confirmed", "booked")
    event = AppointmentEvent.objects.get(appointment=next_visit, action="confirmed")
    assert (event.actor, event.note) == (None, CONFIRMED_BY_SMS)
    assert (message.action, message.patient) == (Action.VISIT_CONFIRMED, patient)
    assert message.handled_at == message.received_at


def test_a_confirm_reply_without_a_visit_ahead_goes_to_the_desk(clock):
    patient = consenting()
    AppointmentFactory(patient=patient, starts_at=at(2026, 5, 1, 10, 0), status="completed")

    message = reply("C")

    assert (message.action, message.note, message.handled_at) == (
        Action.FOR_THE_DESK,
        NO_VISIT,
        None,
    )


def test_a_confirm_reply_for_a_confirmed_visit_changes_nothing(clock):
    patient = consenting()
    visit_on_friday(patient, status="confirmed")

    message = reply("OUI")

    assert (message.action, message.note) == (Action.NOTHING_TO_CHANGE, ALREADY_CONFIRMED)
    assert not AppointmentEvent.objects.exists()


@pytest.mark.parametrize("word", ["STOP", "stop", "BAJA", "Baja", "ARRET", "Arrêt", "UNSUBSCRIBE"])
def test_a_stop_reply_in_each_language_withdraws_consent_with_the_reason(clock, word):
    patient = consenting()

    message = reply(word)

    patient.refresh_from_db()
    assert patient.reminder_consent is False
    assert patient.reminder_consent_changed_at == MONDAY_9
    assert patient.reminder_consent_changed_by is None
    assert patient.history.latest().history_change_reason == STOPPED_BY_SMS
    assert (message.action, message.patient) == (Action.REMINDERS_STOPPED, patient)


@pytest.mark.parametrize("word", ["START", "start", "ALTA", "Alta", "UNSTOP"])
def test_a_start_reply_in_each_language_gives_consent_again_with_the_reason(clock, word):
    patient = PatientFactory(phone=PATIENT_NUMBER, reminder_consent=False)

    message = reply(word)

    patient.refresh_from_db()
    assert patient.reminder_consent is True
    assert patient.reminder_consent_changed_at == MONDAY_9
    assert patient.history.latest().history_change_reason == STARTED_BY_SMS
    assert message.action == Action.REMINDERS_RESTARTED


def test_a_stop_reply_when_reminders_are_off_already_changes_nothing(clock):
    patient = PatientFactory(phone=PATIENT_NUMBER, reminder_consent=False)
    versions = patient.history.count()

    assert reply("STOP").action == Action.NOTHING_TO_CHANGE
    assert patient.history.count() == versions


def test_the_guardian_who_receives_reminders_stops_the_minors_reminders(clock):
    guardian = GuardianFactory(
        phone=PATIENT_NUMBER,
        patient__reminder_consent=True,
        patient__reminder_consent_changed_at=MONDAY_9,
    )
    child = guardian.patient

    message = reply("BAJA")

    child.refresh_from_db()
    assert child.reminder_consent is False
    assert (message.patient, message.action) == (child, Action.REMINDERS_STOPPED)


def test_a_guardian_who_does_not_receive_reminders_is_not_matched(clock):
    child = consenting(date_of_birth=date(2020, 1, 1), phone="")
    GuardianFactory(patient=child, phone="+12125550999", receives_reminders=True)
    GuardianFactory(patient=child, phone=PATIENT_NUMBER, receives_reminders=False)

    message = reply("STOP")

    child.refresh_from_db()
    assert child.reminder_consent is True
    assert (message.patient, message.note) == (None, NOBODY)


def test_a_number_shared_by_several_patients_goes_to_the_desk_and_changes_nothing(clock):
    parent = consenting()
    GuardianFactory(
        phone=PATIENT_NUMBER,
        patient__reminder_consent=True,
        patient__reminder_consent_changed_at=MONDAY_9,
    )

    message = reply("STOP")

    assert (message.patient, message.action, message.note) == (None, Action.FOR_THE_DESK, SEVERAL)
    assert Patient.objects.filter(reminder_consent=True).count() == 2
    parent.refresh_from_db()
    assert parent.reminder_consent is True


def test_a_number_nobody_has_goes_to_the_desk(clock):
    consenting()
    message = reply("C", sender="+12125559999")
    assert (message.patient, message.action, message.note) == (None, Action.FOR_THE_DESK, NOBODY)


def test_the_logs_name_neither_the_number_nor_the_words(clock, caplog):
    consenting(first_name="Zoraida")
    caplog.set_level(logging.DEBUG)

    post_twilio(twilio_form("Zoraida here, my eyelid blistered"))
    post_twilio(twilio_form("BAJA"), signature="forged")

    assert "Inbound SMS" in caplog.text
    for secret in (PATIENT_NUMBER, PATIENT_NUMBER[1:], "Zoraida", "eyelid", "BAJA"):
        assert secret not in caplog.text


# --- Delivered twice --------------------------------------------------------------------


def test_a_webhook_delivered_again_is_a_200_and_does_nothing_twice(clock):
    patient = consenting()
    form = twilio_form("STOP")
    assert post_twilio(form).status_code == 200
    patient.refresh_from_db()
    versions = patient.history.count()
    # The desk turns reminders back on; a late repeat of the STOP must not undo that.
    Patient.objects.filter(pk=patient.pk).update(reminder_consent=True)

    again = post_twilio(form)

    assert again.status_code == 200
    assert InboundSms.objects.count() == 1
    patient.refresh_from_db()
    assert patient.reminder_consent is True
    assert patient.history.count() == versions


def test_one_message_id_from_the_two_providers_is_two_messages(clock):
    consenting()
    post_twilio(twilio_form("Hello", sid="SAME-ID"))
    post_vonage(vonage_form("Hello", message_id="SAME-ID"))
    assert InboundSms.objects.count() == 2


# --- Vonage -----------------------------------------------------------------------------


def vonage_form(text: str, sender: str = PATIENT_NUMBER, message_id: str = "") -> dict[str, str]:
    form = {
        "msisdn": sender.removeprefix("+"),
        "to": CLINIC_NUMBER.removeprefix("+"),
        "messageId": message_id or f"0A{next(_sids):014X}",
        "text": text,
        "type": "text",
        "keyword": text.split()[0].upper() if text else "",
        "message-timestamp": "2026-05-04 13:00:00",
        "timestamp": "1777899600",
        "nonce": "5c2bde1c-cc0a-4d29-b4f5-6e1d4b4f9a1e",
    }
    signed = "".join(
        f"&{name}={form[name].replace('&', '_').replace('=', '_')}" for name in sorted(form)
    )
    form["sig"] = hmac.new(b"vonage-test-secret", signed.encode(), hashlib.sha256).hexdigest()
    return form


def post_vonage(form: dict[str, str]):
    return Client().post(reverse("treatments:sms_inbound_vonage"), form)


def test_a_signed_vonage_stop_in_french_stops_the_reminders(clock):
    patient = consenting()

    response = post_vonage(vonage_form("Arrêt"))

    assert response.status_code == 204
    patient.refresh_from_db()
    assert patient.reminder_consent is False
    message = InboundSms.objects.get()
    assert (message.provider, message.sender, message.recipient) == (
        "vonage",
        PATIENT_NUMBER,
        CLINIC_NUMBER,
    )


def test_a_vonage_webhook_with_a_wrong_signature_is_refused(clock):
    patient = consenting()
    form = {**vonage_form("C"), "text": "STOP"}

    assert post_vonage(form).status_code == 403
    del form["sig"]
    assert post_vonage(form).status_code == 403
    assert not InboundSms.objects.exists()
    patient.refresh_from_db()
    assert patient.reminder_consent is True


# --- End to end: reminded, replies BAJA, the next reminder is skipped -----------------


def test_a_patient_reminded_by_sms_who_replies_baja_gets_no_further_reminder(
    settings, tmp_path, dermatologist, cryotherapy, treatment_room
):
    settings.SMS_FILE_PATH = tmp_path / "sms"
    texts = lambda: sorted(Path(settings.SMS_FILE_PATH).glob("*.txt"))  # noqa: E731
    with time_machine.travel(MONDAY_9, tick=False) as clock:
        patient = consenting(email="", preferred_channel="sms", language="es")
        booker = StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST).user
        visit = appointment_book(
            patient=patient,
            dermatologist=dermatologist,
            procedure_type=cryotherapy,
            starts_at=FRIDAY_10,
            booked_by=booker,
        )
        reminders_send_due()  # the booking's confirmation
        clock.move_to(at(2026, 5, 5, 10, 0))  # 72 hours before: the first reminder
        reminders_send_due()
        assert len(texts()) == 2
        assert PATIENT_NUMBER in texts()[-1].read_text()

        clock.move_to(at(2026, 5, 5, 10, 5))
        assert reply("BAJA").action == Action.REMINDERS_STOPPED

        clock.move_to(at(2026, 5, 7, 10, 0))  # 24 hours before: the second reminder
        reminders_send_due()

    assert len(texts()) == 2
    last = Reminder.objects.get(
        source_key=f"appointment:{visit.pk}", kind="appointment", status="skipped"
    )
    assert last.skip_reason == CONSENT_WITHDRAWN


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_webhook_delivered_eight_times_at_once_acts_once_and_never_fails():
    patient = PatientFactory(
        phone=PATIENT_NUMBER, reminder_consent=True, reminder_consent_changed_at=MONDAY_9
    )
    versions = patient.history.count()
    form = twilio_form("STOP")

    outcomes = run_together([lambda: post_twilio(form).status_code for _ in range(8)])

    assert outcomes == [200] * 8
    assert InboundSms.objects.count() == 1
    patient.refresh_from_db()
    assert patient.reminder_consent is False
    assert patient.history.count() == versions + 1
