"""Patient link tokens: opaque, authenticated, expiring, single use."""

import base64
import binascii
import contextlib
import json
import re
import struct
import time
import zlib
from unittest.mock import patch

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import signing
from django.test import override_settings
from django.utils.crypto import salted_hmac

from clinic.links import (
    ACTION_NUMBERS,
    NONCE_BYTES,
    PAYLOAD,
    SALT,
    Action,
    LinkExpired,
    LinkInvalid,
    LinkUsed,
    link_open,
    link_token,
    link_url,
    link_use,
)
from clinic.models import UsedPatientLink

# An id that cannot turn up by chance in a few dozen random bytes, in any spelling.
SUBJECT_ID = 987_654_321


def decodings(token: str) -> list[bytes]:
    """Everything a curious reader could get out of a token: the text itself, and base64
    (standard and URL-safe, padded as needed) of the whole token and of each of its
    dot- or colon-separated parts, inflated too where that works."""
    parts = {token, *token.split(":"), *token.split(".")}
    found = [token.encode()]
    for part in parts:
        padded = part + "=" * (-len(part) % 4)
        for decode in (base64.urlsafe_b64decode, base64.b64decode, signing.b64_decode):
            try:
                raw = decode(padded.encode())
            except (binascii.Error, ValueError):
                continue
            found.append(raw)
            with contextlib.suppress(zlib.error):
                found.append(zlib.decompress(raw))
    return found


def reveals(token: str, subject_id: int, action: str) -> list[str]:
    """What of the link's contents any decoding of the token shows."""
    spellings = {
        "id as text": str(subject_id).encode(),
        "id, 8 bytes big-endian": struct.pack(">Q", subject_id),
        "id, 8 bytes little-endian": struct.pack("<Q", subject_id),
        "id, 4 bytes big-endian": struct.pack(">I", subject_id),
        "id, 4 bytes little-endian": struct.pack("<I", subject_id),
        "action": action.encode(),
    }
    shown = [
        name
        for name, spelling in spellings.items()
        if any(spelling in raw for raw in decodings(token))
    ]
    for raw in decodings(token):
        try:
            json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            continue
        shown.append("JSON")
    return shown


def test_the_old_signed_tokens_showed_the_id_and_the_action_so_the_check_can_see_them():
    old = signing.dumps({"a": Action.CANCEL, "s": SUBJECT_ID, "n": "x"}, salt=SALT, compress=True)

    assert set(reveals(old, SUBJECT_ID, Action.CANCEL)) >= {"id as text", "action", "JSON"}


@pytest.mark.parametrize("action", sorted(Action.ALL))
def test_a_token_decoded_every_way_shows_no_id_no_action_and_no_json(action):
    for _ in range(20):  # different nonces, different bytes
        assert reveals(link_token(action=action, subject_id=SUBJECT_ID), SUBJECT_ID, action) == []


def test_a_token_is_55_url_safe_characters_and_new_each_time():
    tokens = {link_token(action=Action.CONFIRM, subject_id=SUBJECT_ID) for _ in range(50)}

    assert len(tokens) == 50
    assert {len(token) for token in tokens} == {55}
    assert all(token.replace("-", "").replace("_", "").isalnum() for token in tokens)


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(Action.ALL))
def test_a_token_opens_to_its_action_and_subject(action):
    link = link_open(link_token(action=action, subject_id=SUBJECT_ID))

    assert (link.action, link.subject_id) == (action, SUBJECT_ID)
    assert link.single_use == (action not in (Action.AFTERCARE, Action.VISIT))
    assert 1 <= len(link.nonce) <= 32  # fits UsedPatientLink.nonce


def test_an_unknown_action_is_not_made_into_a_token():
    with pytest.raises(ValueError, match="unknown link action"):
        link_token(action="delete", subject_id=1)


def raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def encoded(data: bytes) -> str:
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode()


def test_any_bit_changed_anywhere_makes_the_token_invalid():
    token = raw(link_token(action=Action.CONFIRM, subject_id=SUBJECT_ID))
    refused = 0
    for index in range(len(token)):
        for bit in (0x01, 0x80):
            changed = bytearray(token)
            changed[index] ^= bit
            with pytest.raises(LinkInvalid):
                link_open(encoded(changed))
            refused += 1

    assert refused == 2 * 41


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "A" * 54,
        "A" * 56,
        "A" * 55,
        "+" * 55,
        "é" * 55,
        "../" * 18 + "a",
    ],
)
def test_what_is_not_a_token_is_invalid(token):
    with pytest.raises(LinkInvalid, match="not valid"):
        link_open(token)


@pytest.mark.django_db
def test_a_token_with_the_last_characters_spare_bits_set_is_invalid():
    token = link_token(action=Action.CONFIRM, subject_id=SUBJECT_ID)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 41 bytes fill 54 characters and 4 bits of the 55th; its 2 low bits are spare.
    spare = alphabet[alphabet.index(token[-1]) ^ 0b01]
    link_open(token)

    with pytest.raises(LinkInvalid):
        link_open(token[:-1] + spare)


def aes_gcm(secret: str) -> AESGCM:
    """AES-256-GCM under the key the module's docstring names, derived here on its own."""
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"clinic.patient-link")
    return AESGCM(hkdf.derive(secret.encode()))


def made_with(secret: str, *, action_number: int, subject_id: int) -> str:
    """A token as the module's docstring describes it, with any key and any action number."""
    nonce = bytes(range(NONCE_BYTES))
    payload = PAYLOAD.pack(action_number, subject_id, int(time.time()))
    return encoded(nonce + aes_gcm(secret).encrypt(nonce, payload, None))


def test_a_token_is_aes_gcm_of_the_action_subject_and_time_under_the_hkdf_key():
    made = int(time.time())
    with patch("clinic.links.time.time", return_value=made):
        token = raw(link_token(action=Action.BOOK_CHECK, subject_id=SUBJECT_ID))

    nonce, sealed = bytes(token[:NONCE_BYTES]), bytes(token[NONCE_BYTES:])
    payload = aes_gcm(settings.SECRET_KEY).decrypt(nonce, sealed, None)
    assert PAYLOAD.unpack(payload) == (ACTION_NUMBERS.index(Action.BOOK_CHECK), SUBJECT_ID, made)
    assert len(sealed) == PAYLOAD.size + 16  # ciphertext and AES-GCM's 16-byte tag


@pytest.mark.django_db
def test_a_token_made_as_the_docstring_describes_opens_to_its_action_and_subject():
    made_here = made_with(settings.SECRET_KEY, action_number=1, subject_id=SUBJECT_ID)

    link = link_open(made_here)

    assert (link.action, link.subject_id) == (Action.CANCEL, SUBJECT_ID)


def test_a_token_of_the_earlier_hmac_keystream_format_is_invalid():
    # The format before AES-GCM: payload XOR HMAC-SHA256 keystream, then a 16-byte HMAC tag,
    # both keyed by salted_hmac of the same secret key. Same length, never valid now.
    nonce = bytes(range(NONCE_BYTES))
    payload = PAYLOAD.pack(0, SUBJECT_ID, int(time.time()))
    key = settings.SECRET_KEY
    stream = salted_hmac(f"{SALT}.encrypt", nonce, secret=key, algorithm="sha256").digest()
    ciphertext = bytes(a ^ b for a, b in zip(payload, stream, strict=False))
    tag = salted_hmac(f"{SALT}.authenticate", nonce + ciphertext, secret=key, algorithm="sha256")
    old = encoded(nonce + ciphertext + tag.digest()[:16])

    assert len(old) == 55
    with pytest.raises(LinkInvalid, match="not valid"):
        link_open(old)


@pytest.mark.django_db
def test_a_token_made_with_the_previous_secret_key_opens_while_it_is_a_fallback(settings):
    old_key = settings.SECRET_KEY
    token = made_with(old_key, action_number=0, subject_id=SUBJECT_ID)
    settings.SECRET_KEY = "a-new-key-" * 5

    with pytest.raises(LinkInvalid):
        link_open(token)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert link_open(token).subject_id == SUBJECT_ID


def test_a_token_made_with_another_key_is_invalid():
    with pytest.raises(LinkInvalid):
        link_open(made_with("not-this-clinics-key", action_number=0, subject_id=SUBJECT_ID))


def test_an_authentic_token_with_an_unknown_action_number_is_invalid():
    token = made_with(settings.SECRET_KEY, action_number=len(ACTION_NUMBERS), subject_id=1)

    with pytest.raises(LinkInvalid):
        link_open(token)


@pytest.mark.django_db
def test_a_token_expires_after_the_links_lifetime(settings):
    settings.CLINIC_LINK_MAX_AGE = 3600
    made = int(time.time())
    with patch("clinic.links.time.time", return_value=made):
        token = link_token(action=Action.CONFIRM, subject_id=SUBJECT_ID)
    with patch("clinic.links.time.time", return_value=made + 3600):
        assert link_open(token).subject_id == SUBJECT_ID
    with patch("clinic.links.time.time", return_value=made + 3601), pytest.raises(LinkExpired):
        link_open(token)


@pytest.mark.django_db
def test_a_used_link_is_refused_and_a_read_only_one_is_not_recorded():
    cancel_token = link_token(action=Action.CANCEL, subject_id=SUBJECT_ID)
    cancel = link_open(cancel_token)
    aftercare_token = link_token(action=Action.AFTERCARE, subject_id=SUBJECT_ID)
    link_use(cancel)
    link_use(link_open(aftercare_token))

    with pytest.raises(LinkUsed):
        link_use(cancel)
    with pytest.raises(LinkUsed):
        link_open(cancel_token)
    assert link_open(aftercare_token).action == Action.AFTERCARE
    assert list(UsedPatientLink.objects.values_list("nonce", "action", "subject_id")) == [
        (cancel.nonce, Action.CANCEL, SUBJECT_ID)
    ]


@override_settings(CLINIC_BASE_URL="https://clinic.example.com/")
def test_a_link_url_opens_the_action_on_its_subject():
    url = link_url(action=Action.VISIT, subject_id=42)

    token = re.fullmatch(r"https://clinic\.example\.com/l/([A-Za-z0-9_-]+)/", url)[1]
    assert (link_open(token).action, link_open(token).subject_id) == (Action.VISIT, 42)
