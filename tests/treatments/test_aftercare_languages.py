"""Aftercare per language: the catalogue's texts, the fallback, and the words a record keeps.

A patient gets the aftercare in their own language; when the clinic has not written it,
in the clinic's default language (LANGUAGE_CODE), else in English. The record keeps the
words it was given with, whatever the catalogue says later.
"""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Max
from django.test import override_settings
from django.urls import reverse

from clinic.links import Action, link_token
from treatments.models import AftercareText, Appointment, ProcedureType
from treatments.selectors.catalogue import (
    aftercare_text_for,
    aftercare_texts_of,
    clinic_default_language,
)
from treatments.services import records
from treatments.services.catalogue import aftercare_texts_save

from ..factories import AppointmentFactory, GuardianFactory, LesionFactory, PatientFactory

pytestmark = pytest.mark.django_db

CATALOGUE = [
    "extraction",
    "de-roofing",
    "cryotherapy",
    "curettage",
    "electrodesiccation",
    "watchful-waiting",
    "topical-therapy",
]


# --- The catalogue's texts ---------------------------------------------------------------


@pytest.mark.parametrize("slug", CATALOGUE)
def test_every_procedure_type_has_its_aftercare_in_english_spanish_and_french(slug):
    texts = aftercare_texts_of(ProcedureType.objects.get(slug=slug))

    assert set(texts) == {"en", "es", "fr"}
    assert len(set(texts.values())) == 3  # three different texts, not one copied
    # Each ends with the advice for everyone, in its language.
    assert "salicylic acid" in texts["en"]
    assert "ácido salicílico" in texts["es"]
    assert "acide salicylique" in texts["fr"]


def test_the_translations_say_what_the_english_says():
    texts = aftercare_texts_of(ProcedureType.objects.get(slug="cryotherapy"))

    assert "A blister may form within 24–48 hours: do not pop it." in texts["en"]
    assert "Puede formarse una ampolla en 24–48 horas: no la reviente." in texts["es"]
    assert "Une cloque peut apparaître dans les 24 à 48 heures : ne la percez pas." in texts["fr"]


def test_a_language_has_one_text_per_procedure_type(cryotherapy):
    with pytest.raises(IntegrityError):
        AftercareText.objects.create(procedure_type=cryotherapy, language="es", text="Otra.")


def test_an_empty_aftercare_text_is_refused_by_the_database(cryotherapy):
    AftercareText.objects.filter(procedure_type=cryotherapy, language="fr").delete()

    with pytest.raises(IntegrityError):
        AftercareText.objects.create(procedure_type=cryotherapy, language="fr", text="")


# --- The fallback order --------------------------------------------------------------------


def only(procedure_type, **texts):
    """Leaves the type with exactly these texts (language=text)."""
    aftercare_texts_save(
        procedure_type=procedure_type,
        texts={language: texts.get(language, "") for language in ("en", "es", "fr")},
    )
    return procedure_type


def test_a_patient_gets_the_aftercare_in_their_own_language(cryotherapy):
    text, language = aftercare_text_for(procedure_type=cryotherapy, language="fr")

    assert language == "fr"
    assert text.startswith("Une cloque peut apparaître")


@override_settings(LANGUAGE_CODE="es")
def test_a_missing_language_falls_back_to_the_clinics_default_language(cryotherapy):
    only(cryotherapy, en="English.", es="Español.")

    assert aftercare_text_for(procedure_type=cryotherapy, language="fr") == ("Español.", "es")


@override_settings(LANGUAGE_CODE="es")
def test_without_the_default_language_either_it_falls_back_to_english(cryotherapy):
    only(cryotherapy, en="English.")

    assert aftercare_text_for(procedure_type=cryotherapy, language="fr") == ("English.", "en")


def test_a_type_without_any_aftercare_gives_an_empty_text(cryotherapy):
    only(cryotherapy)

    assert aftercare_text_for(procedure_type=cryotherapy, language="es") == ("", "es")


@pytest.mark.parametrize(
    ("language_code", "default"),
    [("en-us", "en"), ("es", "es"), ("fr-CA", "fr"), ("es-mx", "es"), ("de", "en")],
)
def test_the_clinics_default_language_is_the_patient_language_of_its_language_code(
    language_code, default
):
    with override_settings(LANGUAGE_CODE=language_code):
        assert clinic_default_language() == default


def test_looking_up_an_aftercare_text_is_one_query(cryotherapy, django_assert_num_queries):
    with django_assert_num_queries(1):
        aftercare_text_for(procedure_type=cryotherapy, language="fr")


# --- What a record keeps -----------------------------------------------------------------

CRYO = {
    "cryo_method": "spray",
    "freeze_seconds": 5,
    "freeze_thaw_cycles": 2,
    "halo_mm": Decimal("1"),
}
NO_COMPLICATIONS = {
    "complication_bleeding": False,
    "complication_blistering": False,
    "complication_pain": False,
    "complication_note": "",
}


def record_for(patient, *, dermatologist, room, cryotherapy, given_by="patient"):
    visit = AppointmentFactory(
        patient=patient,
        dermatologist=dermatologist,
        room=room,
        procedure_type=cryotherapy,
        status=Appointment.Status.CHECKED_IN,
    )
    return records.procedure_record(
        appointment=visit,
        procedure_type=cryotherapy,
        lesions=[LesionFactory(patient=patient, count=3)],
        technique=CRYO,
        consent={"consent_obtained": True, "consent_given_by": given_by},
        complications=NO_COMPLICATIONS,
        note="Tolerated well.",
        by=dermatologist.user,
    )


@pytest.mark.parametrize(
    ("language", "start"),
    [("en", "A blister may form"), ("es", "Puede formarse"), ("fr", "Une cloque")],
)
def test_recording_stores_the_aftercare_in_the_patients_language(
    language, start, dermatologist, treatment_room, cryotherapy
):
    patient = PatientFactory(language=language)

    procedure = record_for(
        patient, dermatologist=dermatologist, room=treatment_room, cryotherapy=cryotherapy
    )

    procedure.refresh_from_db()
    assert procedure.aftercare_text.startswith(start)


def test_a_minor_is_given_the_aftercare_in_the_patients_language(
    dermatologist, treatment_room, cryotherapy
):
    baby = GuardianFactory(patient__language="es").patient

    procedure = record_for(
        baby,
        dermatologist=dermatologist,
        room=treatment_room,
        cryotherapy=cryotherapy,
        given_by="guardian",
    )

    assert procedure.aftercare_text.startswith("Puede formarse una ampolla")


def test_a_patient_whose_language_lacks_the_text_is_given_the_fallback(
    dermatologist, treatment_room, cryotherapy
):
    only(cryotherapy, en="Keep the blister intact.", es="No reviente la ampolla.")

    procedure = record_for(
        PatientFactory(language="fr"),
        dermatologist=dermatologist,
        room=treatment_room,
        cryotherapy=cryotherapy,
    )

    assert procedure.aftercare_text == "Keep the blister intact."


def test_a_signed_record_keeps_its_words_when_the_catalogue_changes(
    dermatologist, treatment_room, cryotherapy
):
    procedure = record_for(
        PatientFactory(language="es"),
        dermatologist=dermatologist,
        room=treatment_room,
        cryotherapy=cryotherapy,
    )
    records.procedure_sign(procedure=procedure, by=dermatologist.user)
    given = procedure.aftercare_text

    only(cryotherapy, en="New words.", es="Palabras nuevas.")

    procedure.refresh_from_db()
    assert procedure.aftercare_text == given != "Palabras nuevas."


def test_the_handout_and_the_aftercare_link_show_the_words_the_record_keeps(
    client, dermatologist_client, dermatologist, treatment_room, cryotherapy
):
    procedure = record_for(
        PatientFactory(language="es"),
        dermatologist=dermatologist,
        room=treatment_room,
        cryotherapy=cryotherapy,
    )
    records.procedure_sign(procedure=procedure, by=dermatologist.user)
    # Changed later: the pages still show what the patient was given.
    only(cryotherapy, en="New words.", es="Palabras nuevas.")

    handout = dermatologist_client.get(
        reverse("treatments:procedure_handout", args=[procedure.pk])
    ).content.decode()
    token = link_token(action=Action.AFTERCARE, subject_id=procedure.pk)
    link_page = client.get(reverse("treatments:patient_link", args=[token])).content.decode()

    for page in (handout, link_page):
        assert "Puede formarse una ampolla en 24–48 horas: no la reviente." in page
        assert "Palabras nuevas." not in page


# --- The data migration --------------------------------------------------------------------

BEFORE = [("treatments", "0008_reminder_offsets")]
AFTER = [("treatments", "0009_aftercare_per_language")]


def migrate(targets):
    """The schema and data at these migrations; returns the models as they were then."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_moves_the_english_and_translates_only_the_untouched_defaults():
    highest_id = AftercareText.objects.aggregate(highest=Max("id"))["highest"] or 0
    old = migrate(BEFORE)
    old_types = old.get_model("treatments", "ProcedureType").objects
    old_types.filter(slug="extraction").update(aftercare_text="Our own words.")
    cryotherapy_english = old_types.get(slug="cryotherapy").aftercare_text

    new = migrate(AFTER)

    texts = new.get_model("treatments", "AftercareText").objects
    by_type = {
        (row.procedure_type.slug, row.language): row.text
        for row in texts.select_related("procedure_type")
    }
    # The clinic's own English moves as it is; translating the defaults would say
    # something else, so its Spanish and French are left to the manager.
    assert by_type[("extraction", "en")] == "Our own words."
    assert ("extraction", "es") not in by_type and ("extraction", "fr") not in by_type
    assert by_type[("cryotherapy", "en")] == cryotherapy_english
    assert by_type[("cryotherapy", "es")].startswith("Puede formarse una ampolla")

    back = migrate(BEFORE)

    back_types = back.get_model("treatments", "ProcedureType").objects
    assert back_types.get(slug="extraction").aftercare_text == "Our own words."
    assert back_types.get(slug="cryotherapy").aftercare_text == cryotherapy_english
    # Back to the newest migrations, whose tables the next test's data fills.
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    _ids_after(highest_id)


def _ids_after(highest_id: int) -> None:
    """Migrating back and forth made the table anew, so PostgreSQL's id sequence starts
    again; the rows the next test gets back keep their ids (up to highest_id): new rows
    must be numbered after them. (SQLite numbers after the highest row anyway.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('treatments_aftercaretext', 'id'),"
                " GREATEST(%s, (SELECT COALESCE(MAX(id), 0) FROM treatments_aftercaretext)) + 1,"
                " false)",
                [highest_id],
            )
