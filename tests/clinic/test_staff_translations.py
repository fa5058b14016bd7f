"""The staff interface in Spanish: every staff page, as each role whose language is
Spanish, goes through the catalogue (a pseudo-locale shows what does not), and a Spanish
staff member's form errors and messages are Spanish."""

import re
from datetime import date

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import formats, translation

from clinic.models import StaffMember
from treatments.models import BillingSequence

from .test_access_matrix import EXPECTED, ROLES, clinic, private_media, url_for  # noqa: F401
from .test_translations import LOCALE, po_entries, pseudo_locale, untranslated  # noqa: F401

pytestmark = pytest.mark.django_db

# Pages that are no staff page: the patient's own (the links and the printed handout,
# in the patient's language: tested in test_translations), the machine's, the photos'
# bytes, and those a GET must not reach.
NOT_STAFF_PAGES = {
    "treatments:procedure_handout",
    "healthz",
    "logout",
    "treatments:patient_link",
    "treatments:patient_link_unsubscribe",
    "treatments:patient_link_calendar",
    "treatments:photo_image",
    "treatments:photo_thumbnail",
}
# The public booking page and the patient portal (in the browser's language: tested in
# test_translations) and the FHIR API (JSON for programs).
NOT_STAFF_NAMESPACES = ("portal:", "fhir:")
# The apps whose rows a page shows as data (names, notes, the catalogue's names).
DATA_APPS = {"patients", "clinic", "treatments"}
# Rows no page shows: the billing sequences' keys ("invoice", "receipt").
NEVER_SHOWN = {BillingSequence}
# Symbols that are the same in every language.
UNITS = {"mm"}


def data_values() -> list[str]:
    """Every text the database holds that a page may show as it is: names, notes,
    codes, the procedure catalogue (data is not translated; choices' labels are)."""
    values = {settings.CLINIC_NAME, settings.CLINIC_PHONE, "Milia Clinic"}
    for model in apps.get_models():
        if model._meta.app_label not in DATA_APPS or model in NEVER_SHOWN:
            continue
        fields = [
            field.attname
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField) and not field.choices
        ]
        for row in model.objects.values_list(*fields):
            # A multi-line text is shown line by line (linebreaksbr).
            values |= {line.strip() for value in row if value for line in str(value).splitlines()}
    for staff_member in StaffMember.objects.select_related("user"):
        user = staff_member.user
        values |= {str(staff_member), user.get_full_name(), user.first_name, user.last_name}
    return sorted((value for value in values if len(value) > 2), key=len, reverse=True)


def django_words() -> set[str]:
    """Spanish that Django itself writes on our pages (day and month names, a.m./p.m.)."""
    with translation.override("es"):
        written = [
            formats.date_format(date(2026, month, day), name)
            for month in range(1, 13)
            for day in range(1, 8)
            for name in ("l", "D", "F", "N", "M", "E", "b")
        ]
    return {word.lower() for text in written for word in re.findall(r"[^\W\d_]+", text)}


def staff_pages(role: str) -> list[str]:
    """The staff pages this role may open (a 200 in the access matrix)."""
    index = ROLES.index(role)
    return sorted(
        name
        for name, statuses in EXPECTED.items()
        if name not in NOT_STAFF_PAGES
        and not name.startswith(NOT_STAFF_NAMESPACES)
        and 200 in _allowed(statuses[index])
    )


def _allowed(status) -> set:
    return status if isinstance(status, set) else {status}


def test_the_data_left_out_holds_no_word_of_the_interface(clinic):  # noqa: F811
    """The check below takes the database's texts out of a page: none of them may be a
    text of the interface itself (a msgid), or it would hide that text untranslated."""
    msgids = {entry.msgid for entry in po_entries(LOCALE / "es" / "LC_MESSAGES" / "django.po")}
    assert len(msgids) > 1000
    # One word is both: the catalogue's procedure "Cryotherapy" and the record's heading
    # of its technique (which stays in {% translate %}).
    assert set(data_values()) & msgids == {"Cryotherapy"}


@pytest.mark.parametrize("role", ["receptionist", "dermatologist", "manager"])
def test_every_staff_page_goes_through_the_catalogue_in_spanish(
    clinic,  # noqa: F811
    as_role,
    pseudo_locale,  # noqa: F811
    role,
):
    client = as_role(role)
    client.get(reverse("treatments:home"))  # shows (and so ends) the messages of the set-up
    StaffMember.objects.filter(pk=client.staff_member.pk).update(language=pseudo_locale)
    values, spanish = data_values(), django_words()
    left: dict[str, list[str]] = {}
    for name in staff_pages(role):
        response = client.get(url_for(name, clinic))
        assert response.status_code == 200, name
        if not response["Content-Type"].startswith("text/html"):
            # PDFs (their templates: test_billing_translations), photos, CSV exports.
            continue
        html = response.content.decode()
        assert f'<html lang="{pseudo_locale}">' in html or "<html" not in html, name
        html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
        words = [w for w in untranslated(html, values=values) if w.lower() not in spanish | UNITS]
        if words:
            left[name] = words
    assert left == {}, "\n".join(f"{name}: {' '.join(words)}" for name, words in left.items())


def test_a_spanish_staff_members_form_errors_and_messages_are_spanish(
    clinic,  # noqa: F811
    receptionist_client,
):
    """The real catalogue, not the pseudo-locale: what the desk reads after a mistake and
    after an action."""
    StaffMember.objects.filter(pk=receptionist_client.staff_member.pk).update(language="es")

    refused = receptionist_client.post(
        reverse("treatments:patient_register"),
        {"first_name": "Ana", "last_name": "Ruiz", "date_of_birth": "2999-01-01"},
    )
    confirmed = receptionist_client.post(
        reverse("treatments:appointment_action", args=[clinic["upcoming"].pk, "confirm"]),
        follow=True,
    )
    waiting_removed = receptionist_client.post(
        reverse("treatments:waitlist_remove", args=[clinic["waiting"].pk]), follow=True
    )

    assert refused.status_code == 200  # the form again, with its errors
    page = refused.content.decode()
    assert '<html lang="es">' in page
    assert "La fecha de nacimiento no puede ser futura." in page
    assert "Este campo es obligatorio." in page  # Django's own words
    assert "Registrar un paciente" in page
    assert confirmed.status_code == 200
    notes = [str(message) for message in confirmed.context["messages"]]
    assert len(notes) == 1 and notes[0].startswith("Confirmada: ")
    assert " con " in notes[0] and " with " not in notes[0]
    assert waiting_removed.status_code == 200
    assert "Lista de espera" in waiting_removed.content.decode()
