"""The draft's own page: edited until signed; signing asks first."""

import pytest
from django.urls import reverse

from clinic.models import AccessLog
from treatments.models import Procedure

from ...factories import StaffMemberFactory
from .test_records import checked_in, cryo_form  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(checked_in, dermatologist_client):  # noqa: F811
    dermatologist_client.post(
        reverse("treatments:procedure_record", args=[checked_in.pk]), cryo_form(checked_in)
    )
    return Procedure.objects.get()


def revise_form(procedure, **changes):
    form = cryo_form(procedure.appointment, **changes)
    del form["procedure_type"]  # the type stays
    return form


def test_the_draft_page_shows_the_record_as_saved_and_logs_the_view(dermatologist_client, draft):
    response = dermatologist_client.get(reverse("treatments:procedure_revise", args=[draft.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Edit the draft record of" in page
    assert "Tolerated well." in page
    assert 'name="procedure_type"' not in page
    assert page.count('name="lesions" value=') == 2
    assert page.count("checked") >= 2  # both lesions, as recorded
    assert AccessLog.objects.filter(
        action=AccessLog.Action.RECORD_VIEW, patient=draft.patient, path__endswith="/edit/"
    ).exists()


def test_saving_the_draft_changes_it_and_leads_back_to_it(dermatologist_client, draft):
    url = reverse("treatments:procedure_revise", args=[draft.pk])

    response = dermatologist_client.post(url, revise_form(draft, note="Blister expected."))

    assert response.status_code == 302
    assert response["Location"] == reverse("treatments:procedure_detail", args=[draft.pk])
    draft.refresh_from_db()
    assert (draft.note, draft.is_signed) == ("Blister expected.", False)


def test_a_bad_value_is_a_form_error_and_the_draft_is_kept(dermatologist_client, draft):
    url = reverse("treatments:procedure_revise", args=[draft.pk])

    response = dermatologist_client.post(url, revise_form(draft, freeze_seconds="90", note="x"))

    assert response.status_code == 400
    assert "A freeze of 1–30 seconds" in response.content.decode()
    draft.refresh_from_db()
    assert (draft.note, draft.freeze_seconds) == ("Tolerated well.", 5)


def test_a_signed_record_is_not_edited_but_amended(dermatologist_client, draft):
    dermatologist_client.post(reverse("treatments:procedure_sign", args=[draft.pk]))
    url = reverse("treatments:procedure_revise", args=[draft.pk])

    assert dermatologist_client.get(url).status_code == 409
    response = dermatologist_client.post(url, revise_form(draft, note="Overwritten"))

    assert response.status_code == 409
    assert "Add an amendment" in response.content.decode()
    draft.refresh_from_db()
    assert draft.note == "Tolerated well."


def test_a_colleague_may_not_edit_anothers_draft(draft, client):
    colleague = StaffMemberFactory()
    client.force_login(colleague.user)
    url = reverse("treatments:procedure_revise", args=[draft.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, revise_form(draft, note="Not mine")).status_code == 403
    draft.refresh_from_db()
    assert draft.note == "Tolerated well."


def test_signing_asks_first_and_only_the_answer_signs(dermatologist_client, draft):
    detail = dermatologist_client.get(reverse("treatments:procedure_detail", args=[draft.pk]))
    sign_url = reverse("treatments:procedure_sign", args=[draft.pk])
    assert f'href="{sign_url}"' in detail.content.decode()  # a link to the question

    question = dermatologist_client.get(sign_url)

    assert question.status_code == 200
    assert "Sign and lock this record?" in question.content.decode()
    draft.refresh_from_db()
    assert not draft.is_signed
    answer = dermatologist_client.post(sign_url)
    assert answer.status_code == 302
    draft.refresh_from_db()
    assert draft.is_signed
    again = dermatologist_client.get(sign_url)
    assert again.status_code == 302  # back to the record: nothing left to sign


def test_the_question_is_only_for_the_signing_dermatologist(draft, client):
    colleague = StaffMemberFactory()
    client.force_login(colleague.user)
    assert client.get(reverse("treatments:procedure_sign", args=[draft.pk])).status_code == 403
