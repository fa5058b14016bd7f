"""What a patient's text to the clinic does (the webhooks in views/sms.py deliver it).

The sender's number finds the patient: their own number, or the number of the guardian
who receives a minor's reminders. With exactly one patient found, a keyword acts:
- confirm ("C", "SI", "OUI", "YES", "CONFIRM"): the patient's next visit, if booked, is
  confirmed, as by the patient (nobody at the clinic), the reply named in its history;
- stop ("STOP", "BAJA", "ARRET", "UNSUBSCRIBE"): reminder consent is withdrawn, so the
  next sweep skips the patient's reminders; a guardian's stop stops the minor's;
- start ("START", "ALTA", "UNSTOP"): consent is given again; reminders planned from now
  on go out (those skipped meanwhile stay skipped).
The reason is kept in the patient's history. Any other text, a number that finds nobody
or several patients, or a keyword with nothing to act on goes to the desk's inbox.

The text is kept and acted on in one transaction, once per provider message: a repeated
webhook finds it kept and does nothing again.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.models import InboundSms
from clinic.sms_inbound import Keyword, inbound_sms_settle, inbound_sms_store, reply_keyword
from patients.models import Patient
from patients.selectors import patients_reached_at
from patients.services import patient_set_reminder_consent

from ..models import Appointment
from ..selectors.appointments import patient_next_visit
from .booking import TransitionNotAllowed, appointment_confirm

Action = InboundSms.Action
STOPPED_BY_SMS = "Replied STOP by SMS"
STARTED_BY_SMS = "Replied START by SMS"
CONFIRMED_BY_SMS = "Confirmed by the patient's SMS reply"
NOBODY = "No patient has this number."
SEVERAL = "Several patients have this number: choose whom it is about."
NO_VISIT = "The patient has no visit ahead to confirm."
ALREADY_CONFIRMED = "The next visit was confirmed already."
VISIT_CHANGED = "The next visit changed as the reply came in: check it."
ALREADY_STOPPED = "Reminders were off already."
ALREADY_STARTED = "Reminders were on already."
RECORD_INVALID = "The patient's record needs correcting before reminders can be changed."

logger = logging.getLogger(__name__)


def sms_reply_receive(
    *, provider: str, provider_message_id: str, sender: str, recipient: str, body: str
) -> InboundSms | None:
    """Keep a patient's text and do what its keyword asks; None when this provider
    message was received before (nothing is done twice)."""
    with transaction.atomic():
        message = inbound_sms_store(
            provider=provider,
            provider_message_id=provider_message_id,
            sender=sender,
            recipient=recipient,
            body=body,
        )
        if message is None:
            logger.info("Inbound %s SMS received again: nothing done", provider)
            return None
        _act(message)
    logger.info("Inbound SMS %s: %s", message.pk, message.action)
    return message


def _act(message: InboundSms) -> InboundSms:
    keyword = reply_keyword(message.body)
    patients = patients_reached_at(phone=message.sender)
    if len(patients) != 1:
        note = NOBODY if not patients else SEVERAL
        return inbound_sms_settle(message=message, action=Action.FOR_THE_DESK, note=note)
    [patient] = patients
    if keyword is None:
        return inbound_sms_settle(message=message, action=Action.FOR_THE_DESK, patient=patient)
    if keyword == Keyword.CONFIRM:
        return _confirm(message, patient)
    consent = keyword == Keyword.START
    if patient.reminder_consent == consent:
        note = ALREADY_STARTED if consent else ALREADY_STOPPED
        return inbound_sms_settle(
            message=message, action=Action.NOTHING_TO_CHANGE, patient=patient, note=note
        )
    try:
        with transaction.atomic():
            patient_set_reminder_consent(
                patient=patient,
                consent=consent,
                reason=STARTED_BY_SMS if consent else STOPPED_BY_SMS,
            )
    except ValidationError:
        # A record the desk must put right first (the form would say what is missing).
        return inbound_sms_settle(
            message=message, action=Action.FOR_THE_DESK, patient=patient, note=RECORD_INVALID
        )
    action = Action.REMINDERS_RESTARTED if consent else Action.REMINDERS_STOPPED
    return inbound_sms_settle(message=message, action=action, patient=patient)


def _confirm(message: InboundSms, patient: Patient) -> InboundSms:
    visit = patient_next_visit(patient=patient)
    if visit is None:
        return inbound_sms_settle(
            message=message, action=Action.FOR_THE_DESK, patient=patient, note=NO_VISIT
        )
    if visit.status == Appointment.Status.CONFIRMED:
        return inbound_sms_settle(
            message=message,
            action=Action.NOTHING_TO_CHANGE,
            patient=patient,
            note=ALREADY_CONFIRMED,
        )
    try:
        appointment_confirm(appointment=visit, by=None, note=CONFIRMED_BY_SMS)
    except TransitionNotAllowed:
        # The desk confirmed, cancelled or checked it in a moment ago: theirs is the last word.
        return inbound_sms_settle(
            message=message, action=Action.FOR_THE_DESK, patient=patient, note=VISIT_CHANGED
        )
    return inbound_sms_settle(message=message, action=Action.VISIT_CONFIRMED, patient=patient)
