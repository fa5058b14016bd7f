"""Writes of patients online: one-time codes, online bookings, portal sessions and the
preferences a patient or guardian changes there.

Identity is a contact (an email address or a phone number) proven by a six-digit code
sent to it: valid CODE_MINUTES, CODE_TRIES tries, stored as an HMAC-SHA256 under a key
derived from the secret key, so that the table alone gives no code away. Asking for
codes is rate-limited per client address and per contact (limits.py).

A booking is the desk's `appointment_book`: the exclusion constraint is the only guard
against two bookings of one time, and the loser gets the nearest free times. The
patient is matched by name, birth date and the verified contact, or registered in the
same transaction, marked "registered online, to verify"; a taken time writes nothing.
"""

import hashlib
import hmac
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from clinic.channels import mail_name, sms_name
from clinic.errors import ServiceError, StateConflict
from clinic.models import StaffMember
from patients.models import Channel, Guardian, Patient
from patients.services import patient_register, patient_update
from treatments.models import Appointment, ProcedureType
from treatments.services.booking import BookingError, appointment_book

from .limits import limit_count
from .models import CODE_DIGITS, CODE_MINUTES, CODE_TRIES, OneTimeCode, PortalSession
from .selectors import portal_contact_known

logger = logging.getLogger(__name__)
Purpose = OneTimeCode.Purpose
Status = OneTimeCode.Status
BOOKED_ONLINE = "Booked online by the patient"
BOOKED_ONLINE_BY_GUARDIAN = "Booked online by a guardian"
REGISTERED_ONLINE = "Registered online on the public booking page"


class CodeRefused(StateConflict):
    """A code that cannot be checked any more: used, refused after five tries, expired."""


class CodeWrong(ServiceError):
    """A wrong code; `tries_left` more may be made."""

    def __init__(self, message: str, *, tries_left: int) -> None:
        super().__init__(message)
        self.tries_left = tries_left


class CodeNotSent(ServiceError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


def _code_key() -> bytes:
    return hashlib.sha256(f"portal.one-time-code:{settings.SECRET_KEY}".encode()).digest()


def _code_hash(reference: str, code: str) -> str:
    return hmac.new(_code_key(), f"{reference}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _send_code(*, code: OneTimeCode, digits: str) -> None:
    """The code by email (with a link that fills it in) or by SMS, in the active language.
    No diagnosis or procedure name: only the clinic's name and the code."""
    minutes = CODE_MINUTES
    try:
        if code.channel == Channel.EMAIL:
            verify = reverse(f"portal:{code.purpose}_verify", args=[code.reference])
            url = f"{settings.CLINIC_BASE_URL.rstrip('/')}{verify}?code={digits}"
            body = _(
                "Your code is %(code)s. It is valid for %(minutes)s minutes.\n\n"
                "Or open this link: %(url)s\n\n"
                "If you did not ask for it, you can ignore this message."
            ) % {"code": digits, "minutes": minutes, "url": url}
            subject = _("Your code for %(clinic)s") % {"clinic": mail_name()}
            send_mail(subject, body, None, [code.contact])
        else:
            backend = import_string(settings.SMS_BACKEND)()
            backend.open()
            try:
                text = _("%(clinic)s: your code is %(code)s, valid %(minutes)s minutes.")
                backend.send(
                    to=code.contact,
                    body=text % {"clinic": sms_name(), "code": digits, "minutes": minutes},
                )
            finally:
                backend.close()
    except (OSError, smtplib.SMTPException, ServiceError) as error:
        # The error's kind only: its text may name the address.
        logger.warning("A one-time code could not be sent by %s: %s", code.channel, type(error))
        raise CodeNotSent(
            _("We could not send the code just now. Please try again in a few minutes.")
        ) from None


def code_send(
    *,
    purpose: str,
    channel: str,
    contact: str,
    ip_address: str | None,
    request: dict[str, Any] | None = None,
    deliver: bool = True,
) -> OneTimeCode:
    """Make a code for `contact` and send it, unless `deliver` is False: the portal's
    code is sent by the worker (portal_code_deliver), which draws its digits anew.

    Raises TooManyRequests past the per-address or per-contact hourly limits."""
    limit_count(scope="code-ip", key=ip_address, limit=settings.CLINIC_CODES_PER_IP)
    limit_count(scope="code-contact", key=contact, limit=settings.CLINIC_CODES_PER_CONTACT)
    digits, reference = _new_code(), secrets.token_urlsafe(18)
    code = OneTimeCode(
        reference=reference,
        purpose=purpose,
        channel=channel,
        contact=contact,
        code_hash=_code_hash(reference, digits),
        request=request or {},
        expires_at=timezone.now() + timedelta(minutes=CODE_MINUTES),
    )
    code.full_clean()
    code.save()
    if deliver:
        _send_code(code=code, digits=digits)
    return code


def code_check(*, reference: str, purpose: str, digits: str, ip_address: str | None) -> OneTimeCode:
    """Check a typed code: the right one in time verifies it. Each try counts, the wrong
    ones committed too; the fifth wrong try refuses the code for good, and any try after
    it is refused (CodeRefused), the right code included."""
    limit_count(scope="check-ip", key=ip_address, limit=settings.CLINIC_CODE_CHECKS_PER_IP)
    with transaction.atomic():
        code = _locked(reference, purpose)
        if code.status != Status.PENDING:
            raise CodeRefused(_refusal(code))
        if code.expires_at <= timezone.now():
            raise CodeRefused(_("This code has expired. Ask for a new one."))
        code.tries += 1
        right = hmac.compare_digest(code.code_hash, _code_hash(reference, digits.strip()))
        if right:
            code.status, code.verified_at = Status.VERIFIED, timezone.now()
        elif code.tries >= CODE_TRIES:
            code.status = Status.REFUSED
        code.save(update_fields=["tries", "status", "verified_at"])
    if not right:
        if code.status == Status.REFUSED:
            raise CodeRefused(_refusal(code))
        raise CodeWrong(
            _("That code is not right. Check it and try again."),
            tries_left=CODE_TRIES - code.tries,
        )
    return code


def _locked(reference: str, purpose: str) -> OneTimeCode:
    try:
        return OneTimeCode.objects.select_for_update().get(reference=reference, purpose=purpose)
    except OneTimeCode.DoesNotExist:
        raise CodeRefused(_("This code is not valid. Ask for a new one.")) from None


def _refusal(code: OneTimeCode) -> str:
    if code.status == Status.REFUSED:
        return _("Too many wrong tries. Ask for a new code.")
    return _("This code has already been used. Ask for a new one.")


# --- Online booking -------------------------------------------------------------------


@dataclass(frozen=True)
class OnlineBooking:
    appointment: Appointment
    new_patient: bool
    contact: str  # the verified email address or phone number


def _matching_patients(request: dict[str, Any], contact: str) -> QuerySet[Patient]:
    """Patients with the name and birth date given and the verified contact: their own,
    or for a child their guardian's."""
    patients = Patient.objects.filter(
        first_name__iexact=request["first_name"].strip(),
        last_name__iexact=request["last_name"].strip(),
        date_of_birth=date.fromisoformat(request["date_of_birth"]),
    )
    if request["for_child"]:
        holds = Q(guardians__email__iexact=contact) | Q(guardians__phone=contact)
    else:
        holds = Q(email__iexact=contact) | Q(phone=contact)
    return patients.filter(holds).distinct().order_by("pk")


def _new_patient(request: dict[str, Any], code: OneTimeCode) -> Patient:
    """Register the patient (and for a child the guardian who booked, who then receives
    the reminders), marked registered online for the desk to check."""
    by_email = code.channel == Channel.EMAIL
    patient = Patient(
        first_name=request["first_name"].strip(),
        last_name=request["last_name"].strip(),
        date_of_birth=date.fromisoformat(request["date_of_birth"]),
        preferred_channel=code.channel,
        language=request["language"],
        reminder_consent=request["reminders"],
        registered_online=True,
    )
    guardian = None
    if request["for_child"]:
        guardian = Guardian(
            first_name=request["guardian_first_name"].strip(),
            last_name=request["guardian_last_name"].strip(),
            relationship=Guardian.Relationship.PARENT,
            email=code.contact if by_email else "",
            phone=code.contact if not by_email else "",
            # Empty: the child's language, which the portal lets the guardian change.
            language="",
        )
    else:
        patient.email = code.contact if by_email else ""
        patient.phone = code.contact if not by_email else ""
    patient._change_reason = REGISTERED_ONLINE
    return patient_register(patient=patient, guardian=guardian, allow_duplicate=True, by=None)


def _book(code: OneTimeCode, *, starts_at: datetime, dermatologist_id: int) -> OnlineBooking:
    request = code.request
    procedure_type = ProcedureType.objects.filter(pk=request["procedure_type"]).first()
    if procedure_type is None or not (procedure_type.bookable_online and procedure_type.is_active):
        raise BookingError(_("This visit type cannot be booked online any more."))
    dermatologist = StaffMember.objects.select_related("user").filter(pk=dermatologist_id).first()
    if dermatologist is None:
        raise BookingError(_("This dermatologist cannot be booked."))
    existing = _matching_patients(request, code.contact).first()
    if existing is None and procedure_type.online_returning_only:
        raise BookingError(
            _(
                "%(name)s can be booked online only by patients who have been to the clinic. "
                "Please book a consultation first, or call us."
            )
            % {"name": procedure_type}
        )
    patient = existing or _new_patient(request, code)
    appointment = appointment_book(
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=procedure_type,
        starts_at=starts_at,
        booked_by=None,
        note=BOOKED_ONLINE_BY_GUARDIAN if request["for_child"] else BOOKED_ONLINE,
    )
    code.status = Status.USED
    code.request = {**request, "appointment": appointment.pk}
    code.save(update_fields=["status", "request"])
    return OnlineBooking(
        appointment=appointment, new_patient=existing is None, contact=code.contact
    )


def online_booking_confirm(*, reference: str, digits: str, ip_address: str | None) -> OnlineBooking:
    """Check the code, then book the time asked for. The code stays verified when the
    time was taken meanwhile (SlotTaken, with the nearest free times), so that the
    patient can pick another without a new code (online_booking_choose)."""
    code = code_check(
        reference=reference, purpose=Purpose.BOOKING, digits=digits, ip_address=ip_address
    )
    return online_booking_choose(
        reference=code.reference,
        starts_at=datetime.fromisoformat(code.request["starts_at"]),
        dermatologist_id=code.request["dermatologist"],
    )


def online_booking_choose(
    *, reference: str, starts_at: datetime, dermatologist_id: int
) -> OnlineBooking:
    """Book a time for a verified code, within CODE_MINUTES of its verification. Nothing
    is written when the booking is refused: the patient registration neither."""
    with transaction.atomic():
        code = _locked(reference, Purpose.BOOKING)
        if code.status != Status.VERIFIED:
            pending = code.status == Status.PENDING
            raise CodeRefused(_("Enter the code we sent you first.") if pending else _refusal(code))
        assert code.verified_at is not None  # code_verified_has_time
        if code.verified_at + timedelta(minutes=CODE_MINUTES) <= timezone.now():
            raise CodeRefused(_("This code has expired. Ask for a new one."))
        return _book(code, starts_at=starts_at, dermatologist_id=dermatologist_id)


# --- Portal sessions ------------------------------------------------------------------


def portal_code_send(*, channel: str, contact: str, ip_address: str | None) -> OneTimeCode:
    """A portal code for `contact`, made here; the worker sends it (portal_code_deliver),
    and only if a patient or guardian has the contact. This request neither looks the
    contact up nor waits for a mail or SMS server, so the answer, the next page and the
    time they take say nothing of who is known."""
    from .tasks import portal_code_deliver  # the tasks module imports this one

    code = code_send(
        purpose=Purpose.PORTAL,
        channel=channel,
        contact=contact,
        ip_address=ip_address,
        deliver=False,
    )
    language = translation.get_language()
    transaction.on_commit(lambda: portal_code_deliver.delay(code.pk, language))
    return code


def portal_code_deliver(*, code_id: int, language: str) -> str:
    """The worker's half of portal_code_send: draw the digits and send them in the
    asker's language, if the code is still pending and a patient or guardian has its
    contact. The digits are drawn here, so that they never travel through the broker;
    a second run (a retry, a worker lost after sending) sends new ones, and only the
    newest works. Returns "sent", "unknown" or "gone" (used, refused, expired, purged).
    Raises CodeNotSent when the mail or SMS server refuses (the task tries again)."""
    with transaction.atomic():
        code = (
            OneTimeCode.objects.select_for_update()
            .filter(
                pk=code_id,
                purpose=Purpose.PORTAL,
                status=Status.PENDING,
                expires_at__gt=timezone.now(),
            )
            .first()
        )
        if code is None:
            return "gone"
        if not portal_contact_known(contact=code.contact):
            return "unknown"
        digits = _new_code()
        code.code_hash = _code_hash(code.reference, digits)
        code.save(update_fields=["code_hash"])
    with translation.override(language):
        _send_code(code=code, digits=digits)
    return "sent"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def portal_session_start(*, reference: str, digits: str, ip_address: str | None) -> str:
    """Check the code and open a portal session; returns the cookie's random key."""
    with transaction.atomic():
        code = code_check(
            reference=reference, purpose=Purpose.PORTAL, digits=digits, ip_address=ip_address
        )
        code.status = Status.USED
        code.save(update_fields=["status"])
        key = secrets.token_urlsafe(32)
        PortalSession.objects.create(
            key_hash=_key_hash(key),
            channel=code.channel,
            contact=code.contact,
            last_seen_at=timezone.now(),
        )
    return key


def portal_session_resume(*, key: str) -> PortalSession | None:
    """The open session of this cookie key, its idle time restarted; None when there is
    none, it was ended, or it was idle longer than CLINIC_PORTAL_IDLE_MINUTES (it ends)."""
    now = timezone.now()
    session = PortalSession.objects.filter(key_hash=_key_hash(key), ended_at__isnull=True).first()
    if session is None:
        return None
    if now - session.last_seen_at > timedelta(minutes=settings.CLINIC_PORTAL_IDLE_MINUTES):
        portal_session_end(session=session)
        return None
    # A conditional update: the row's idle clock restarts unless it was ended meanwhile.
    PortalSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(last_seen_at=now)
    return session


def portal_session_end(*, session: PortalSession) -> None:
    PortalSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )


def portal_patient_preferences_change(
    *,
    session: PortalSession,
    patient: Patient,
    preferred_channel: str,
    language: str,
    reminder_consent: bool,
) -> Patient:
    """The reminder channel, language and consent, changed by the patient or guardian
    online. Consent given or withdrawn records when, and in the patient's history who:
    nobody at the clinic, the contact verified in the portal. Refused (ValidationError
    naming the field) when the reminders would then reach nobody."""
    return patient_update(
        patient=patient,
        by=None,
        reason=f"Changed online in the patient portal by {session.contact}",
        preferred_channel=preferred_channel,
        language=language,
        reminder_consent=reminder_consent,
    )


# Codes (and the booking details they carry) and ended sessions are kept this long, for
# the desk's questions about a booking that went wrong, then deleted.
KEPT_AFTER_EXPIRY = timedelta(days=1)


def portal_records_purge() -> tuple[int, int]:
    """Delete codes that expired more than KEPT_AFTER_EXPIRY ago, and sessions ended (or
    idle) that long; returns how many of each. A booked visit keeps nothing of its code."""
    cutoff = timezone.now() - KEPT_AFTER_EXPIRY
    codes, _ = OneTimeCode.objects.filter(expires_at__lt=cutoff).delete()
    idle_since = cutoff - timedelta(minutes=settings.CLINIC_PORTAL_IDLE_MINUTES)
    sessions, _ = PortalSession.objects.filter(
        Q(ended_at__lt=cutoff) | Q(ended_at__isnull=True, last_seen_at__lt=idle_since)
    ).delete()
    return codes, sessions
