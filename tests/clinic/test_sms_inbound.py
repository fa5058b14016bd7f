"""Patients' texts as the providers deliver them (clinic/sms_inbound.py): the signatures,
the keywords, the sender's number, and keeping each provider message once."""

import hashlib
import hmac

import pytest
from django.db import IntegrityError, transaction

from clinic.models import InboundSms
from clinic.sms_inbound import (
    Keyword,
    inbound_sms_store,
    reply_keyword,
    sender_number,
    twilio_signature,
    twilio_signature_valid,
    vonage_signature,
    vonage_signature_valid,
)

# Twilio's worked example ("Validating requests", twilio.com/docs/usage/security).
TWILIO_DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_DOCS_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_the_twilio_signature_is_the_one_of_twilios_worked_example():
    signature = twilio_signature(
        url=TWILIO_DOCS_URL, params=TWILIO_DOCS_PARAMS.items(), auth_token="12345"
    )
    assert signature == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_twilio_signature_checks_out_only_with_the_settings_auth_token(settings):
    settings.TWILIO_AUTH_TOKEN = "12345"
    params = list(TWILIO_DOCS_PARAMS.items())
    good = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

    assert twilio_signature_valid(url=TWILIO_DOCS_URL, params=params, signature=good)
    assert not twilio_signature_valid(url=TWILIO_DOCS_URL + "&x=1", params=params, signature=good)
    assert not twilio_signature_valid(
        url=TWILIO_DOCS_URL, params=[*params, ("Body", "STOP")], signature=good
    )
    assert not twilio_signature_valid(url=TWILIO_DOCS_URL, params=params, signature="")
    settings.TWILIO_AUTH_TOKEN = ""
    assert not twilio_signature_valid(url=TWILIO_DOCS_URL, params=params, signature=good)


def vonage_by_hand(params: dict[str, str], secret: str, method: str) -> str:
    """Vonage's documented steps, written out: sort, "&name=value" with "&" and "=" in
    values made "_", then an MD5 of it with the secret after, or an HMAC keyed with it."""
    text = "".join(
        "&" + name + "=" + params[name].replace("&", "_").replace("=", "_")
        for name in sorted(params)
    )
    if method == "md5hash":
        return hashlib.md5((text + secret).encode()).hexdigest()  # noqa: S324
    return hmac.new(secret.encode(), text.encode(), method).hexdigest()


VONAGE_PARAMS = {
    "msisdn": "447700900001",
    "to": "447700900000",
    "messageId": "0A0000000123ABCD1",
    "text": "Baja & adios = fin",
    "type": "text",
    "keyword": "BAJA",
    "message-timestamp": "2026-05-04 13:00:00",
    "timestamp": "1777899600",
    "nonce": "aaaa-bbbb",
}


@pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
def test_a_vonage_signature_follows_the_documented_steps(settings, method):
    settings.VONAGE_SIGNATURE_SECRET = "vonage-secret"
    settings.VONAGE_SIGNATURE_METHOD = method
    sig = vonage_by_hand(VONAGE_PARAMS, "vonage-secret", method)

    assert vonage_signature(params=VONAGE_PARAMS, secret="vonage-secret", method=method) == sig
    assert vonage_signature_valid(params={**VONAGE_PARAMS, "sig": sig.upper()})
    assert not vonage_signature_valid(params={**VONAGE_PARAMS, "text": "C", "sig": sig})
    assert not vonage_signature_valid(params=VONAGE_PARAMS)


def test_without_a_vonage_secret_no_signature_checks_out(settings):
    settings.VONAGE_SIGNATURE_SECRET = ""
    sig = vonage_by_hand(VONAGE_PARAMS, "", "md5hash")
    assert not vonage_signature_valid(params={**VONAGE_PARAMS, "sig": sig})


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("C", Keyword.CONFIRM),
        (" c ", Keyword.CONFIRM),
        ("Si", Keyword.CONFIRM),
        ("SÍ", Keyword.CONFIRM),
        ("sí.", Keyword.CONFIRM),
        ("Oui!", Keyword.CONFIRM),
        ("yes", Keyword.CONFIRM),
        ("Confirm", Keyword.CONFIRM),
        ("STOP", Keyword.STOP),
        ("baja", Keyword.STOP),
        ("Arrêt", Keyword.STOP),
        ("ARRET", Keyword.STOP),
        ("unsubscribe", Keyword.STOP),
        ("Start", Keyword.START),
        ("ALTA", Keyword.START),
        ("unstop", Keyword.START),
        ("Can I come at 3?", None),
        ("stop it please", None),
        ("", None),
    ],
)
def test_a_reply_is_a_keyword_whatever_its_case_accents_and_spaces(body, keyword):
    assert reply_keyword(body) == keyword


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("+12125550100", "+12125550100"),
        ("12125550100", "+12125550100"),  # Vonage leaves off the plus
        ("33612345678", "+33612345678"),
        ("CLINIC", "CLINIC"),  # an alphanumeric sender stays as it came
        ("12345", "12345"),  # a short code
    ],
)
def test_the_sender_is_kept_in_e164_when_it_is_a_phone_number(raw, number):
    assert sender_number(raw) == number


def store(message_id: str = "SM1") -> InboundSms | None:
    return inbound_sms_store(
        provider="twilio",
        provider_message_id=message_id,
        sender="+12125550100",
        recipient="+12125550199",
        body="Hello",
    )


@pytest.mark.django_db
def test_a_provider_message_is_kept_once():
    first = store()
    assert first is not None
    assert store() is None
    assert InboundSms.objects.get().pk == first.pk


@pytest.mark.django_db
def test_the_database_refuses_a_second_row_for_one_provider_message():
    store()
    with pytest.raises(IntegrityError), transaction.atomic():
        InboundSms.objects.create(
            provider="twilio",
            provider_message_id="SM1",
            sender="+1",
            received_at=InboundSms.objects.get().received_at,
        )
