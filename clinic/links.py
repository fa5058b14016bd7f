"""Signed links for patients and guardians, who have no login.

A link carries an action, the id of what it acts on and a random nonce, signed with the
secret key and a timestamp: a tampered link fails the signature, an old one expires.
Links that change something (confirm, cancel, stop reminders, ask for a booking) work
once: their nonce is recorded when used, and a unique constraint settles a race.
"""

import secrets
from dataclasses import dataclass
from http import HTTPStatus

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from .errors import ServiceError
from .models import UsedPatientLink

SALT = "clinic.patient-link"


class Action:
    CONFIRM = "confirm"  # an appointment
    CANCEL = "cancel"  # an appointment
    AFTERCARE = "aftercare"  # a procedure's aftercare instructions (read-only, reusable)
    BOOK_CHECK = "book-check"  # a follow-up: ask the clinic to book the recurrence check
    STOP = "stop"  # a patient: withdraw consent to reminders

    READ_ONLY = {AFTERCARE}
    ALL = {CONFIRM, CANCEL, AFTERCARE, BOOK_CHECK, STOP}


class LinkError(ServiceError):
    """A link that cannot be followed; the message is shown to the patient. A link that
    was good once (expired, used, its subject gone) is 410 Gone."""

    status = HTTPStatus.GONE


class LinkInvalid(LinkError):
    status = HTTPStatus.BAD_REQUEST


class LinkExpired(LinkError):
    pass


class LinkUsed(LinkError):
    pass


@dataclass(frozen=True)
class PatientLink:
    action: str
    subject_id: int
    nonce: str

    @property
    def single_use(self) -> bool:
        return self.action not in Action.READ_ONLY


def link_token(*, action: str, subject_id: int) -> str:
    if action not in Action.ALL:
        raise ValueError(f"unknown link action {action!r}")
    payload = {"a": action, "s": subject_id, "n": secrets.token_urlsafe(12)}
    return signing.dumps(payload, salt=SALT, compress=True)


def link_url(*, action: str, subject_id: int) -> str:
    """The absolute URL of a new link, for a message."""
    token = link_token(action=action, subject_id=subject_id)
    base_url: str = settings.CLINIC_BASE_URL
    return base_url.rstrip("/") + reverse("treatments:patient_link", args=[token])


def link_open(token: str) -> PatientLink:
    """Read a link; raises LinkInvalid, LinkExpired or LinkUsed. Changes nothing."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.CLINIC_LINK_MAX_AGE)
        link = PatientLink(action=payload["a"], subject_id=int(payload["s"]), nonce=payload["n"])
    except signing.SignatureExpired:
        raise LinkExpired("This link has expired.") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise LinkInvalid("This link is not valid.") from None
    if link.action not in Action.ALL:
        raise LinkInvalid("This link is not valid.")
    if link.single_use and UsedPatientLink.objects.filter(nonce=link.nonce).exists():
        raise LinkUsed("This link has already been used.")
    return link


def link_use(link: PatientLink) -> None:
    """Record that a single-use link's action was done; call it in the action's transaction."""
    if not link.single_use:
        return
    try:
        with transaction.atomic():
            UsedPatientLink.objects.create(
                nonce=link.nonce, action=link.action, subject_id=link.subject_id
            )
    except IntegrityError:
        raise LinkUsed("This link has already been used.") from None
