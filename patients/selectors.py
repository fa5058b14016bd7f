"""Reads of the patients app: finding a patient at the desk, and what their page shows."""

import re
from datetime import date, datetime

from django.db.models import Q, QuerySet

from .models import Patient

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
# What a phone number may be typed with: digits, spaces, dashes, dots, brackets, a plus.
PHONE_LIKE = re.compile(r"^[\d\s\-.()+]+$")


def _date_in(query: str) -> date | None:
    for date_format in DATE_FORMATS:
        try:
            return datetime.strptime(query, date_format).date()
        except ValueError:
            continue
    return None


def _phone_digits(query: str) -> str:
    """The digits of a typed phone number, without a leading +1 or + (E.164 has both)."""
    query = query.strip()
    if query.startswith("+1"):
        query = query[2:]
    return re.sub(r"\D", "", query)


def patient_search(*, query: str, limit: int = 50) -> QuerySet[Patient]:
    """Patients whose name, date of birth or phone matches what the receptionist typed.

    A date (YYYY-MM-DD or MM/DD/YYYY) matches the date of birth; digits and phone
    punctuation match any run of digits of the stored E.164 number; anything else
    matches names, every word in the first or the last name, in either order.
    """
    query = query.strip()
    if not query:
        return Patient.objects.none()
    born = _date_in(query)
    if born is not None:
        matches = Q(date_of_birth=born)
    elif PHONE_LIKE.match(query):
        digits = _phone_digits(query)
        if not digits:
            return Patient.objects.none()
        matches = Q(phone__contains=digits)
    else:
        matches = Q()
        for word in query.split():
            matches &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
    return Patient.objects.filter(matches).order_by("last_name", "first_name", "pk")[:limit]


def patient_likely_duplicates(
    *, first_name: str, last_name: str, date_of_birth: date, phone
) -> QuerySet[Patient]:
    """Registered patients who may be this person: same name and birthday, or same phone."""
    same_person = Q(
        first_name__iexact=first_name.strip(),
        last_name__iexact=last_name.strip(),
        date_of_birth=date_of_birth,
    )
    if phone:
        same_person |= Q(phone=phone)
    return Patient.objects.filter(same_person).order_by("last_name", "first_name", "pk")
