"""How many SMS segments a text takes (3GPP TS 23.038 and 23.040), and a GSM-7 fallback.

A text written only in the GSM 7-bit alphabet goes in septets: 160 in one message, or
153 per segment once it is split (each segment gives 7 to the header that joins them);
the extension table's characters (€, [, ], {, }, …) take two septets, which a split never
separates. Any other character sends the whole text in UCS-2: 70 UTF-16 units in one
message, 67 per segment when split.

A single "ó" in a name or a Spanish text would thus more than double a message's
segments; gsm7_fallback writes such letters without their accent (ó → o, ç → c) and
typographic quotes and dashes plainly, as SMS gateways' "smart encoding" does, and keeps a
text it cannot bring into GSM-7 as it is.
"""

import unicodedata

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


# Typographic characters that have a plain GSM-7 spelling.
PLAIN = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " "}


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def _parts(sizes: list[int], single: int, part: int) -> int:
    """Segments for characters of these sizes: one if all fit `single`, else filled in
    order, `part` units each, a character never split between two."""
    if sum(sizes) <= single:
        return 1 if sizes else 0
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments


def sms_segments(text: str) -> int:
    """The number of segments `text` is sent in; 0 for an empty text."""
    if is_gsm7(text):
        return _parts([2 if char in GSM7_EXTENSION else 1 for char in text], GSM7_SINGLE, GSM7_PART)
    units = [len(char.encode("utf-16-le")) // 2 for char in text]
    return _parts(units, UCS2_SINGLE, UCS2_PART)


def _gsm7_char(char: str) -> str:
    if char in GSM7_BASIC or char in GSM7_EXTENSION:
        return char
    if char in PLAIN:
        return PLAIN[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and is_gsm7(base) else char


def gsm7_fallback(text: str) -> str:
    """The text in the GSM 7-bit alphabet if accents and typography are all that keep it
    out (see the module's docstring); otherwise the text unchanged."""
    if is_gsm7(text):
        return text
    plain = "".join(_gsm7_char(char) for char in text)
    return plain if is_gsm7(plain) else text
