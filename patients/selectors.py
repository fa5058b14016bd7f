"""Reads of the patients app: finding a patient at the desk, and what their page shows."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Field, Model, Q, QuerySet, Subquery
from django.utils.translation import gettext
from phonenumber_field.phonenumber import PhoneNumber

from .models import Guardian, Patient

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
# What a phone number may be typed with: digits, spaces, dashes, dots, brackets, a plus.
PHONE_LIKE = re.compile(r"^[\d\s\-.()+]+$")
# A medical record number as the clinic assigns them (models.mrn_for): M and digits.
MRN_LIKE = re.compile(r"^[Mm]\d+$")
# Where a page of search results ends: the pk of its last patient. Only the pk travels in
# the "Next results" link, so no patient's name ends up in a URL, a browser's history or
# a server's log.
SearchPosition = int


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


def patient_search(
    *, query: str, limit: int = 50, after: SearchPosition | None = None
) -> QuerySet[Patient]:
    """Patients whose MRN, name, date of birth or phone matches what the receptionist typed.

    An MRN (M and digits, either case) matches that number exactly; a date (YYYY-MM-DD
    or MM/DD/YYYY) matches the date of birth; digits and phone
    punctuation match any run of digits of the stored E.164 number; anything else
    matches names, every word in the first or the last name, in either order. With
    `after`, only the patients that come after that position in the order.
    """
    query = query.strip()
    if not query:
        return Patient.objects.none()
    born = _date_in(query)
    if MRN_LIKE.match(query):
        matches = Q(mrn=query.upper())
    elif born is not None:
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
    if after is not None:
        matches &= _after(after)
    return Patient.objects.filter(matches).order_by("last_name", "first_name", "pk")[:limit]


def _after(pk: SearchPosition) -> Q:
    """The rows strictly after patient `pk` in (last_name, first_name, pk) order.

    A row comparison spelled out, as the ORM offers none; that patient's names come from
    subqueries the database runs once. The redundant last_name >= lets an index on the
    names start at the position rather than at the top.
    """
    at = Patient.objects.filter(pk=pk)
    last_name = Subquery(at.values("last_name")[:1])
    first_name = Subquery(at.values("first_name")[:1])
    return Q(last_name__gte=last_name) & (
        Q(last_name__gt=last_name)
        | Q(last_name=last_name, first_name__gt=first_name)
        | Q(last_name=last_name, first_name=first_name, pk__gt=pk)
    )


@dataclass(frozen=True)
class PatientSearchPage:
    patients: list[Patient]
    next_after: SearchPosition | None  # None on the last page


def patient_search_page(
    *, query: str, size: int = 50, after: SearchPosition | None = None
) -> PatientSearchPage:
    """One page of patient_search, and where the next one starts if there is one.

    Paged by key, not by offset, so a late page of a common surname costs what the first
    does; reading one patient more than the page tells whether another follows, no COUNT.
    """
    patients = list(patient_search(query=query, limit=size + 1, after=after))
    if len(patients) <= size:
        return PatientSearchPage(patients=patients, next_after=None)
    return PatientSearchPage(patients=patients[:size], next_after=patients[size - 1].pk)


def patient_likely_duplicates(
    *, first_name: str, last_name: str, date_of_birth: date, phone: PhoneNumber | str | None
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


@dataclass(frozen=True)
class RecordChange:
    """One change to a patient's record or a guardian's, as the patient page lists it."""

    at: datetime
    by: User | None  # None: nobody logged in (the patient's own link, a task)
    reason: str  # why, when the change says (e.g. the patient's "stop reminders" link)
    summary: str  # "Registered", "Changed", "Guardian added: Maria Garcia", ...
    fields: list[str]  # the changed fields' names, for a change


# Bookkeeping that changes along with what the desk changed, so the history leaves it out.
NOT_LISTED = {
    "id", "patient", "created_at", "updated_at",
    "reminder_consent_changed_at", "reminder_consent_changed_by",
}  # fmt: skip


def _field_label(field: "Field[Any, Any]", row: Any) -> str:
    label = str(field.verbose_name)
    label = label[:1].upper() + label[1:]
    if field.name == "reminder_consent":
        state = gettext("given") if row.reminder_consent else gettext("withdrawn")
        return f"{label} ({state})"
    return label


def _record_changes(
    rows: Iterable[Any], model: type[Model], *, guardian: bool
) -> list[RecordChange]:
    """The changes that history rows (oldest first) describe: each '~' row against the one
    before it of the same record; rows that changed nothing listed are skipped."""
    fields = [field for field in model._meta.concrete_fields if field.name not in NOT_LISTED]
    previous: dict[int, Any] = {}
    changes = []
    for row in rows:
        before = previous.get(row.id)
        previous[row.id] = row
        name = f"{row.first_name} {row.last_name}"
        changed: list[str] = []
        if row.history_type == "+":
            summary = (
                gettext("Guardian added: %(name)s") % {"name": name}
                if guardian
                else gettext("Registered")
            )
        elif row.history_type == "-":
            summary = gettext("Guardian removed: %(name)s") % {"name": name}
        else:
            changed = [
                _field_label(field, row)
                for field in fields
                if before is None or getattr(row, field.attname) != getattr(before, field.attname)
            ]
            if not changed:
                continue
            summary = (
                gettext("Guardian changed: %(name)s") % {"name": name}
                if guardian
                else gettext("Changed")
            )
        changes.append(
            RecordChange(
                at=row.history_date,
                by=row.history_user,
                reason=row.history_change_reason or "",
                summary=summary,
                fields=changed,
            )
        )
    return changes


def patient_history(*, patient: Patient) -> list[RecordChange]:
    """Every change to the patient's record and their guardians', newest first: who made
    it, when, and which fields it changed (not their values). A save that changed only
    bookkeeping (NOT_LISTED, such as updated_at) is left out."""
    patient_rows = (
        Patient.history.filter(id=patient.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    guardian_rows = (
        Guardian.history.filter(patient_id=patient.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    changes = _record_changes(patient_rows, Patient, guardian=False) + _record_changes(
        guardian_rows, Guardian, guardian=True
    )
    return sorted(changes, key=lambda change: change.at, reverse=True)


def patients_reached_at(*, phone: str) -> list[Patient]:
    """The patients reached at `phone` (E.164): those whose own number it is, and those
    whose guardian receiving their reminders has it. Each patient once, in name order."""
    guardians = Guardian.objects.filter(phone=phone, receives_reminders=True)
    return list(
        Patient.objects.filter(Q(phone=phone) | Q(pk__in=guardians.values("patient_id"))).order_by(
            "last_name", "first_name", "pk"
        )
    )


def patient_reader_language(patient: Patient) -> str:
    """The language of whoever reads what the clinic sends about the patient: for a minor,
    the guardian who receives the reminders, in their own language if it is set; else
    the patient's. One query for a minor, none for an adult."""
    if patient.is_minor:
        guardian = patient.guardians.filter(receives_reminders=True).only("language").first()
        if guardian is not None and guardian.language:
            return guardian.language
    return patient.language


def patients_registered_online(*, limit: int = 20) -> list[Patient]:
    """Patients who registered on the public booking page and whose record the desk has
    not checked yet, the newest first."""
    return list(Patient.objects.filter(registered_online=True).order_by("-created_at")[:limit])
