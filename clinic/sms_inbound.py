"""Texts that patients send to the clinic's number: the providers' webhooks, checked,
read for a keyword and kept.

Each provider signs its webhook with a secret only it and the clinic know; a request
whose signature does not check out is refused before anything is read or stored:
- Twilio: `X-Twilio-Signature`, the base64 HMAC-SHA1 (key: TWILIO_AUTH_TOKEN) of the
  webhook's full URL as configured at Twilio (CLINIC_BASE_URL and the path, query string
  included) followed by every POST parameter, sorted by name, as name then value.
- Vonage (SMS API, signed webhooks): a `sig` parameter, made from the other parameters
  sorted by name as `&name=value` (with "&" and "=" in values replaced by "_"), either
  MD5-hashed with VONAGE_SIGNATURE_SECRET appended ("md5hash", Vonage's default) or an
  HMAC (md5, sha1, sha256, sha512) keyed with it, in hex; VONAGE_SIGNATURE_METHOD says
  which, as chosen in the Vonage dashboard.

The body is read for a keyword (case, accents and spaces aside): confirm, stop or start.
Rows are written once per provider message (a unique constraint): a webhook delivered
again, or twice at once, is stored and acted on once. Logs name the row, never the
sender's number or the text.
"""

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Iterable
from enum import StrEnum

import phonenumbers
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.models import Patient

from .models import InboundSms

VONAGE_METHODS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}
VONAGE_METHODS["sha512"] = hashlib.sha512


class Keyword(StrEnum):
    CONFIRM = "confirm"
    STOP = "stop"
    START = "start"


# Replies in English, Spanish and French, written without accents: they are taken off first.
KEYWORDS = {
    **dict.fromkeys(["C", "SI", "OUI", "YES", "CONFIRM"], Keyword.CONFIRM),
    **dict.fromkeys(["STOP", "BAJA", "ARRET", "UNSUBSCRIBE"], Keyword.STOP),
    **dict.fromkeys(["START", "ALTA", "UNSTOP"], Keyword.START),
}


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def reply_keyword(body: str) -> Keyword | None:
    """The keyword a reply is, or None: the whole text, trimmed (a final full stop or
    exclamation mark too), in any case and with or without accents ("Sí", "arrêt")."""
    word = _without_accents(body).strip().rstrip(".!").strip().upper()
    return KEYWORDS.get(word)


def sender_number(raw: str) -> str:
    """The sender in E.164 when it is a phone number (Vonage leaves off the "+"), else the
    text as it came (a short code, an alphanumeric sender), cut to fit."""
    raw = raw.strip()
    candidate = raw if raw.startswith("+") else f"+{raw}"
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return raw[:32]
    if not phonenumbers.is_possible_number(number):
        return raw[:32]
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- Signatures ---------------------------------------------------------------------


def twilio_signature(*, url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The X-Twilio-Signature of a POST to `url` with `params` (name, value pairs, sorted
    by name, then value for a name given twice, as Twilio's own libraries do)."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_valid(*, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    """Whether `signature` is Twilio's for this request; never without TWILIO_AUTH_TOKEN."""
    token: str = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    expected = twilio_signature(url=url, params=params, auth_token=token)
    return hmac.compare_digest(expected.encode(), signature.encode())


def vonage_signature(*, params: dict[str, str], secret: str, method: str) -> str:
    """Vonage's `sig` for `params` (without `sig` itself), in lower-case hex."""
    signed = "".join(
        f"&{name}={params[name].replace('&', '_').replace('=', '_')}" for name in sorted(params)
    ).encode()
    if method == "md5hash":
        return hashlib.md5(signed + secret.encode()).hexdigest()  # noqa: S324 (Vonage's scheme)
    return hmac.new(secret.encode(), signed, VONAGE_METHODS[method]).hexdigest()


def vonage_signature_valid(*, params: dict[str, str]) -> bool:
    """Whether the request's `sig` is Vonage's; never without VONAGE_SIGNATURE_SECRET."""
    secret: str = settings.VONAGE_SIGNATURE_SECRET
    unsigned = {name: value for name, value in params.items() if name != "sig"}
    signature = params.get("sig", "").lower()
    if not secret or not signature:
        return False
    expected = vonage_signature(
        params=unsigned, secret=secret, method=settings.VONAGE_SIGNATURE_METHOD
    )
    return hmac.compare_digest(expected.encode(), signature.encode())


# --- Writes ---------------------------------------------------------------------------


def inbound_sms_store(
    *, provider: str, provider_message_id: str, sender: str, recipient: str, body: str
) -> InboundSms | None:
    """Keep a text as it arrived, for the desk until acted on; None when this provider
    message is kept already (a webhook delivered again, or a simultaneous delivery that
    committed first: the unique constraint decides, and the caller does nothing)."""
    message = InboundSms(
        provider=provider,
        provider_message_id=provider_message_id,
        sender=sender_number(sender),
        recipient=sender_number(recipient) if recipient else "",
        body=body,
        received_at=timezone.now(),
    )
    message.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        if InboundSms.objects.filter(
            provider=provider, provider_message_id=provider_message_id
        ).exists():
            return None
        raise
    return message


def inbound_sms_settle(
    *, message: InboundSms, action: str, patient: Patient | None = None, note: str = ""
) -> InboundSms:
    """Record what was done with a text. Anything but "kept for the desk" needs nobody:
    it is handled as it arrives."""
    message.action = action
    message.patient = patient
    message.note = note[:200]
    if action != InboundSms.Action.FOR_THE_DESK:
        message.handled_at = message.received_at
    message.save(update_fields=["action", "patient", "note", "handled_at"])
    return message


def inbound_sms_mark_handled(*, message: InboundSms, by: User) -> bool:
    """Mark a text of the inbox handled by `by`, now; False when it already was (by
    someone else meanwhile: their mark stays)."""
    marked = InboundSms.objects.filter(pk=message.pk, handled_at__isnull=True).update(
        handled_at=timezone.now(), handled_by=by
    )
    return marked == 1
