"""The National Provider Identifier (NPI) of a provider or of the clinic: ten digits, the
last a Luhn check digit computed over the prefix 80840 and the first nine (CMS, "NPI:
Check Digit"). Read by the settings too, so no Django import here."""

import re

NPI_PATTERN = r"\A[0-9]{10}\Z"
# The card issuer prefix the NPI standard puts before the nine digits for the check digit.
_NPI_PREFIX = "80840"


def npi_is_valid(value: str) -> bool:
    """Ten digits whose last is the Luhn check digit of 80840 and the first nine."""
    if not re.fullmatch(NPI_PATTERN, value):
        return False
    digits = [int(digit) for digit in _NPI_PREFIX + value[:9]]
    # Luhn: from the right, every other digit (the one beside the check digit first) doubled.
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return (10 - total % 10) % 10 == int(value[9])
