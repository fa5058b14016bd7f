"""Opaque links for patients and guardians, who have no login.

A link carries an action, the id of what it acts on and when it was made, encrypted and
authenticated with AES-GCM (the `cryptography` package) under a key derived from the
secret key, so that the token shows nothing of what it points at (no id, no action, no
JSON) and a changed token is refused. An old link expires. Links that change something
(confirm, cancel, stop reminders, ask for a booking, claim a freed time, move a visit,
send photos for a check) work once: their
nonce is recorded when used, and a unique constraint settles a race.

The token is base64url without padding of nonce ‖ ciphertext ‖ tag, 41 bytes in
55 characters:
- nonce: 12 random bytes, AES-GCM's nonce and the link's identity (recorded when used);
- ciphertext: 13 bytes, AES-256-GCM of the action (1 byte), the subject id (8 bytes) and
  the time it was made (4 bytes, Unix seconds), big-endian;
- tag: AES-GCM's 16-byte authentication tag, checked before anything is read.
The key is HKDF-SHA256 of the secret key (no salt, info "clinic.patient-link", 32
bytes); a token made under a key in SECRET_KEY_FALLBACKS is still read. Random 96-bit
nonces keep AES-GCM safe under one key for 2**32 links (NIST SP 800-38D's bound), far
beyond what a clinic sends before its key changes.

Links of earlier formats (signed base64 JSON, then a hand-made HMAC cipher) are not
valid any more: they answer 400, as a link we never made does.
"""

import base64
import functools
import math
import re
import secrets
import struct
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import ServiceError
from .models import UsedPatientLink

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

SALT = "clinic.patient-link"


class Action:
    CONFIRM = "confirm"  # an appointment
    CANCEL = "cancel"  # an appointment
    AFTERCARE = "aftercare"  # a procedure's aftercare instructions (read-only, reusable)
    BOOK_CHECK = "book-check"  # a follow-up: ask the clinic to book the recurrence check
    STOP = "stop"  # a patient: withdraw consent to reminders
    # An appointment: its page, which offers confirm, cancel, the calendar file and stop
    # reminders through links of their own (read-only, reusable: the one link of an SMS).
    VISIT = "visit"
    # A freed time offered to a waitlist entry: the freed visit and the entry (see
    # treatments/services/patient_links.py, claim_subject_id).
    CLAIM = "claim"
    # An appointment: move it to another free time, within the clinic's self-service
    # policy (treatments/services/self_service.py).
    RESCHEDULE = "reschedule"
    # A follow-up: send photos of the treated area instead of coming in for the check.
    PHOTO_CHECK = "photo-check"

    READ_ONLY = {AFTERCARE, VISIT}
    ALL = {CONFIRM, CANCEL, AFTERCARE, BOOK_CHECK, STOP, VISIT, CLAIM, RESCHEDULE, PHOTO_CHECK}


# Each action's number inside a token: append new actions, never reorder (links in
# messages already sent would change their meaning).
ACTION_NUMBERS = (
    Action.CONFIRM,
    Action.CANCEL,
    Action.AFTERCARE,
    Action.BOOK_CHECK,
    Action.STOP,
    Action.VISIT,
    Action.CLAIM,
    Action.RESCHEDULE,
    Action.PHOTO_CHECK,
)
NONCE_BYTES = 12
TAG_BYTES = 16
PAYLOAD = struct.Struct(">BQI")  # action number, subject id, made at (Unix seconds)
TOKEN_BYTES = NONCE_BYTES + PAYLOAD.size + TAG_BYTES
TOKEN_CHARS = math.ceil(TOKEN_BYTES * 4 / 3)  # base64url without padding: 55
TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_CHARS}}}")


class LinkError(ServiceError):
    """A link that cannot be followed; the message is shown to the patient. A link that
    was good once (expired, used, its subject gone) is 410 Gone."""

    status = HTTPStatus.GONE
    # The link, when it could be read (expired, used): whose it was, so that the page can
    # say so in that patient's language. Its message is then translated when shown.
    link: "PatientLink | None" = None

    @classmethod
    def about(cls, link: "PatientLink", message: "StrOrPromise") -> "LinkError":
        error = cls(message)
        error.link = link
        return error


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


@functools.lru_cache(maxsize=8)
def _cipher(secret: str | bytes) -> AESGCM:
    """AES-256-GCM under the key that HKDF derives from a secret key; derived once a
    process for each key (a reminder makes four links)."""
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=SALT.encode()).derive(
        force_bytes(secret)
    )
    return AESGCM(key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def link_token(*, action: str, subject_id: int) -> str:
    """A new opaque token for the action on the subject (see the module's docstring)."""
    if action not in Action.ALL:
        raise ValueError(f"unknown link action {action!r}")
    nonce = secrets.token_bytes(NONCE_BYTES)
    payload = PAYLOAD.pack(ACTION_NUMBERS.index(action), subject_id, int(time.time()))
    ciphertext_and_tag = _cipher(settings.SECRET_KEY).encrypt(nonce, payload, None)
    return _b64(nonce + ciphertext_and_tag)


def link_url(*, action: str, subject_id: int) -> str:
    """The absolute URL of a new link (the README's way to open a demo visit's page)."""
    return LinkUrls().page(action=action, subject_id=subject_id)


class LinkUrls:
    """Absolute URLs of new links, for messages: the page of a link
    (treatments:patient_link) and its one-click stop endpoint for the List-Unsubscribe
    header (RFC 8058, treatments:patient_link_unsubscribe), a new token in each.

    Each route is reversed once, when a batch of messages starts: a reverse() per link
    took a fifth of a reminder's time, and the text around the token is the same for
    every link of a route (a token is URL-safe as it stands).
    """

    def __init__(self) -> None:
        self._page = self._around_token("treatments:patient_link")
        self._unsubscribe = self._around_token("treatments:patient_link_unsubscribe")

    @staticmethod
    def _around_token(route: str) -> tuple[str, str]:
        base_url: str = settings.CLINIC_BASE_URL
        before, _, after = reverse(route, args=["TOKEN"]).rpartition("TOKEN")
        return base_url.rstrip("/") + before, after

    def page(self, *, action: str, subject_id: int) -> str:
        """A new link's page, for the action on the subject."""
        before, after = self._page
        return before + link_token(action=action, subject_id=subject_id) + after

    def unsubscribe(self, *, patient_id: int) -> str:
        """A new stop link's one-click endpoint: a POST there stops reminders as the stop
        link's button does."""
        before, after = self._unsubscribe
        return before + link_token(action=Action.STOP, subject_id=patient_id) + after


def _decrypt(token: str) -> tuple[bytes, bytes]:
    """The nonce and the payload of a token this clinic made; LinkInvalid otherwise."""
    if not TOKEN.fullmatch(token):
        raise LinkInvalid(_("This link is not valid."))
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    if _b64(raw) != token:  # the last character's unused bits set: not a token we made
        raise LinkInvalid(_("This link is not valid."))
    nonce, ciphertext_and_tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        try:
            return nonce, _cipher(secret).decrypt(nonce, ciphertext_and_tag, None)
        except InvalidTag:
            continue  # made under another key, or changed
    raise LinkInvalid(_("This link is not valid."))


def link_open(token: str) -> PatientLink:
    """Read a link; raises LinkInvalid, LinkExpired or LinkUsed. Changes nothing."""
    nonce, payload = _decrypt(token)
    action_number, subject_id, made_at = PAYLOAD.unpack(payload)
    if action_number >= len(ACTION_NUMBERS):
        raise LinkInvalid(_("This link is not valid."))
    link = PatientLink(
        action=ACTION_NUMBERS[action_number], subject_id=subject_id, nonce=_b64(nonce)
    )
    if time.time() - made_at > settings.CLINIC_LINK_MAX_AGE:
        raise LinkExpired.about(link, gettext_lazy("This link has expired."))
    if link.single_use and UsedPatientLink.objects.filter(nonce=link.nonce).exists():
        raise LinkUsed.about(link, gettext_lazy("This link has already been used."))
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
        raise LinkUsed(_("This link has already been used.")) from None
