"""The admin is one more path into an appointment: it meets the same no-overlap rule.
The manager also edits the catalogue there: reminder offsets, aftercare per language."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from treatments.models import AftercareText, Appointment, ProcedureType
from treatments.selectors.catalogue import aftercare_texts_of
from treatments.services import appointment_book

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db


def admin_form(appointment, **changes):
    local = timezone.localtime(appointment.starts_at)
    end = timezone.localtime(appointment.ends_at)
    form = {
        "patient": appointment.patient_id,
        "dermatologist": appointment.dermatologist_id,
        "room": appointment.room_id or "",
        "procedure_type": appointment.procedure_type_id,
        "starts_at_0": local.date().isoformat(),
        "starts_at_1": local.strftime("%H:%M:%S"),
        "ends_at_0": end.date().isoformat(),
        "ends_at_1": end.strftime("%H:%M:%S"),
        "status": appointment.status,
        "reason": "",
        "cancellation_reason": appointment.cancellation_reason,
    }
    form.update(changes)
    return form


@pytest.fixture
def two_visits(dermatologist, cryotherapy, treatment_room, tomorrow_at):
    return [
        appointment_book(
            patient=PatientFactory(),
            dermatologist=dermatologist,
            procedure_type=cryotherapy,
            starts_at=tomorrow_at(hour),
            booked_by=None,
        )
        for hour in (10, 11)
    ]


def test_moving_a_visit_onto_a_taken_time_in_the_admin_is_a_form_error(manager_client, two_visits):
    first, second = two_visits
    taken = timezone.localtime(first.starts_at)
    url = reverse("admin:treatments_appointment_change", args=[second.pk])

    response = manager_client.post(
        url,
        admin_form(
            second,
            starts_at_1=taken.strftime("%H:%M:%S"),
            ends_at_1=(taken + timedelta(minutes=15)).strftime("%H:%M:%S"),
        ),
    )

    assert response.status_code == 200
    assert "that time is already taken" in response.content.decode()
    second.refresh_from_db()
    assert timezone.localtime(second.starts_at).hour == 11


def test_un_cancelling_in_the_admin_into_a_taken_time_is_a_form_error(
    manager_client, two_visits, tomorrow_at
):
    first, _ = two_visits
    Appointment.objects.filter(pk=first.pk).update(status="cancelled", cancellation_reason="Ill")
    first.refresh_from_db()
    appointment_book(
        patient=PatientFactory(),
        dermatologist=first.dermatologist,
        procedure_type=first.procedure_type,
        starts_at=first.starts_at,
        booked_by=None,
    )
    url = reverse("admin:treatments_appointment_change", args=[first.pk])

    response = manager_client.post(url, admin_form(first, status="booked", cancellation_reason=""))

    assert response.status_code == 200
    first.refresh_from_db()
    assert first.status == "cancelled"


def test_a_free_move_in_the_admin_is_saved(manager_client, two_visits):
    _, second = two_visits
    url = reverse("admin:treatments_appointment_change", args=[second.pk])
    response = manager_client.post(
        url, admin_form(second, starts_at_1="12:00:00", ends_at_1="12:15:00")
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert timezone.localtime(second.starts_at).hour == 12


# --- Reminder offsets per procedure type ----------------------------------------------


def procedure_type_form(procedure_type, **changes):
    saved = aftercare_texts_of(procedure_type) if procedure_type.pk else {}
    texts = {"en": "", "es": "", "fr": ""} | saved
    form = {
        "slug": procedure_type.slug,
        "name": procedure_type.name,
        "is_procedure": "on",
        "duration_minutes": procedure_type.duration_minutes,
        "needs_treatment_room": "on",
        "anesthesia": procedure_type.anesthesia,
        "code": procedure_type.code,
        "code_15_or_more": procedure_type.code_15_or_more,
        **{f"aftercare_{language}": text for language, text in texts.items()},
        "follow_up_weeks": procedure_type.follow_up_weeks or "",
        "reminder_offsets": "",
        "is_active": "on",
        "sort_order": procedure_type.sort_order,
    }
    form.update(changes)
    return form


def test_the_manager_sets_a_procedure_types_reminder_offsets_in_the_admin(
    manager_client, cryotherapy
):
    url = reverse("admin:treatments_proceduretype_change", args=[cryotherapy.pk])

    response = manager_client.post(url, procedure_type_form(cryotherapy, reminder_offsets="48, 2"))

    assert response.status_code == 302
    cryotherapy.refresh_from_db()
    assert cryotherapy.reminder_offsets == [48, 2]
    assert "48, 2" in manager_client.get(url).content.decode()


def test_emptying_the_offsets_returns_the_type_to_the_clinics_default(manager_client, cryotherapy):
    cryotherapy.reminder_offsets = [48]
    cryotherapy.save()
    url = reverse("admin:treatments_proceduretype_change", args=[cryotherapy.pk])

    manager_client.post(url, procedure_type_form(cryotherapy, reminder_offsets=" "))

    cryotherapy.refresh_from_db()
    assert cryotherapy.reminder_offsets == []
    assert cryotherapy.reminder_offsets_hours == (72, 24)  # CLINIC_REMINDER_OFFSETS_HOURS


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("48, 48", "Give each offset once."),
        ("0", "Each offset must be from 1 to 672 hours before the visit."),
        ("24, 700", "Each offset must be from 1 to 672 hours before the visit."),
        ("-3", "Each offset must be from 1 to 672 hours before the visit."),
        ("two days", "Give whole hours separated by commas, e.g. 48, 24."),
        ("1.5", "Give whole hours separated by commas, e.g. 48, 24."),
    ],
)
def test_offsets_that_make_no_sense_are_a_form_error(manager_client, cryotherapy, typed, error):
    url = reverse("admin:treatments_proceduretype_change", args=[cryotherapy.pk])

    response = manager_client.post(url, procedure_type_form(cryotherapy, reminder_offsets=typed))

    assert response.status_code == 200
    assert error in response.content.decode()
    cryotherapy.refresh_from_db()
    assert cryotherapy.reminder_offsets == []


# --- Aftercare per language, side by side ----------------------------------------------


def test_the_procedure_types_page_shows_its_aftercare_languages_side_by_side(
    manager_client, cryotherapy
):
    url = reverse("admin:treatments_proceduretype_change", args=[cryotherapy.pk])

    page = manager_client.get(url).content.decode()

    # Django's admin lays the fields of one fieldset line next to each other.
    row = page[page.index('class="flex-container form-multiline"') :]
    row = row[: row.index("</fieldset>")]
    for language, sentence in [
        ("en", "A blister may form"),
        ("es", "Puede formarse una ampolla"),
        ("fr", "Une cloque peut apparaître"),
    ]:
        assert f'name="aftercare_{language}"' in row
        assert f'lang="{language}"' in row
        assert sentence in row


def test_the_manager_saves_the_aftercare_in_all_three_languages_at_once(
    manager_client, cryotherapy
):
    url = reverse("admin:treatments_proceduretype_change", args=[cryotherapy.pk])
    texts = {"aftercare_en": "Keep it dry.", "aftercare_es": "Manténgala seca."}

    response = manager_client.post(
        url, procedure_type_form(cryotherapy, **texts, aftercare_fr="Gardez-la sèche.")
    )

    assert response.status_code == 302
    assert aftercare_texts_of(cryotherapy) == {
        "en": "Keep it dry.",
        "es": "Manténgala seca.",
        "fr": "Gardez-la sèche.",
    }


def test_emptying_a_language_removes_its_text_and_leaves_the_others(manager_client, cryotherapy):
    url = reverse("admin:treatments_proceduretype_change", args=[cryotherapy.pk])
    english = aftercare_texts_of(cryotherapy)["en"]

    manager_client.post(url, procedure_type_form(cryotherapy, aftercare_fr="  "))

    assert not AftercareText.objects.filter(procedure_type=cryotherapy, language="fr").exists()
    assert set(aftercare_texts_of(cryotherapy)) == {"en", "es"}
    assert aftercare_texts_of(cryotherapy)["en"] == english


def test_a_new_procedure_type_gets_its_aftercare_texts(manager_client):
    new_type = procedure_type_form(
        ProcedureType(slug="laser", name="Laser", duration_minutes=20, code="17110", sort_order=9),
        aftercare_en="Avoid the sun for a week.",
        aftercare_es="",
        aftercare_fr="Évitez le soleil une semaine.",
    )

    response = manager_client.post(reverse("admin:treatments_proceduretype_add"), new_type)

    assert response.status_code == 302
    laser = ProcedureType.objects.get(slug="laser")
    assert aftercare_texts_of(laser) == {
        "en": "Avoid the sun for a week.",
        "fr": "Évitez le soleil une semaine.",
    }


def test_a_refused_catalogue_edit_saves_no_aftercare_either(manager_client, cryotherapy):
    url = reverse("admin:treatments_proceduretype_change", args=[cryotherapy.pk])
    before = aftercare_texts_of(cryotherapy)

    response = manager_client.post(
        url, procedure_type_form(cryotherapy, reminder_offsets="0", aftercare_en="Changed.")
    )

    assert response.status_code == 200
    assert aftercare_texts_of(cryotherapy) == before
