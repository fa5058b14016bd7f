"""Charting lesions: the services, the add and edit pages, and who may use them."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import Lesion
from patients.services import lesion_add, lesion_update

from ..factories import LesionFactory, PatientFactory

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "receptionist", "dermatologist", "manager"]


@pytest.fixture
def patient(db):
    return PatientFactory(date_of_birth=date(1990, 5, 17))


@pytest.fixture
def lesion(patient):
    return LesionFactory(patient=patient, site=Lesion.Site.CHEEK_LEFT, count=3)


def lesion_form(**changes):
    form = {
        "site": Lesion.Site.LEFT_UPPER_EYELID,
        "milia_type": Lesion.MiliaType.PRIMARY,
        "size_mm": "1.5",
        "count": "4",
        "colour": Lesion.Colour.WHITE,
        "first_noted": "2026-01-10",
        "note": "",
    }
    return {**form, **changes}


def edit_form(lesion, **changes):
    current = {
        "site": lesion.site,
        "count": str(lesion.count),
        "first_noted": lesion.first_noted.isoformat(),
        "status": lesion.status,
        "resolved_on": "",
    }
    return lesion_form(**{**current, **changes})


# The services


def test_a_charted_lesion_is_active_and_its_history_names_the_clinician(patient, django_user_model):
    user = django_user_model.objects.create(username="dr-who")
    lesion = lesion_add(
        patient=patient, site=Lesion.Site.NOSE_TIP, milia_type=Lesion.MiliaType.PRIMARY,
        size_mm=None, count=2, colour=Lesion.Colour.WHITE, first_noted=date(2026, 1, 2),
        note="", by=user,
    )  # fmt: skip
    assert lesion.status == Lesion.Status.ACTIVE
    assert lesion.history.get().history_user == user


def test_resolving_without_a_date_resolves_today_and_reactivating_clears_it(lesion):
    lesion_update(lesion=lesion, status=Lesion.Status.RESOLVED, by=None)
    lesion.refresh_from_db()
    assert lesion.resolved_on == timezone.localdate()
    lesion_update(lesion=lesion, status=Lesion.Status.ACTIVE, by=None)
    lesion.refresh_from_db()
    assert (lesion.status, lesion.resolved_on) == (Lesion.Status.ACTIVE, None)


def test_a_lesion_first_noted_before_birth_is_refused(lesion):
    with pytest.raises(ValidationError, match="before the patient's birth"):
        lesion_update(lesion=lesion, first_noted=date(1980, 1, 1), by=None)
    lesion.refresh_from_db()
    assert lesion.first_noted == date(2026, 1, 10)


def test_the_patient_of_a_lesion_cannot_be_changed_through_an_update(lesion):
    with pytest.raises(TypeError, match="patient"):
        lesion_update(lesion=lesion, patient=PatientFactory(), by=None)


# The pages


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 302), ("receptionist", 403), ("dermatologist", 200), ("manager", 403)],
)
def test_only_dermatologists_open_the_lesion_pages(as_role, role, expected, lesion):
    client = as_role(role)
    for url in (
        reverse("treatments:lesion_add", args=[lesion.patient.pk]),
        reverse("treatments:lesion_edit", args=[lesion.pk]),
    ):
        response = client.get(url)
        assert response.status_code == expected, url
        if role == "anonymous":
            assert response.url.startswith(reverse("login"))


def test_a_missing_patient_or_lesion_is_not_found(dermatologist_client):
    assert (
        dermatologist_client.get(reverse("treatments:lesion_add", args=[999999])).status_code == 404
    )
    assert (
        dermatologist_client.get(reverse("treatments:lesion_edit", args=[999999])).status_code
        == 404
    )


def test_the_add_page_preselects_the_site_from_the_body_map(dermatologist_client, patient):
    url = reverse("treatments:lesion_add", args=[patient.pk]) + "?site=periorbital_left"
    response = dermatologist_client.get(url)
    html = response.content.decode()
    assert '<option value="periorbital_left" selected>' in html
    assert '<optgroup label="Face">' in html and '<optgroup label="Body">' in html
    assert patient.full_name in html


def test_adding_a_lesion_charts_it_and_the_history_names_the_clinician(
    dermatologist_client, patient
):
    response = dermatologist_client.post(
        reverse("treatments:lesion_add", args=[patient.pk]), lesion_form()
    )
    assert response.status_code == 302
    assert response.url == reverse("treatments:patient_chart", args=[patient.pk])
    lesion = patient.lesions.get()
    assert (lesion.site, lesion.count, lesion.status) == ("eyelid_left_upper", 4, "active")
    assert lesion.history.get().history_user == dermatologist_client.staff_member.user


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", "0"),
        ("size_mm", "99"),
        ("first_noted", (timezone.localdate() + timedelta(days=1)).isoformat()),
        ("first_noted", "1980-01-01"),
    ],
)
def test_bad_input_shows_form_errors_and_charts_nothing(
    dermatologist_client, patient, field, value
):
    response = dermatologist_client.post(
        reverse("treatments:lesion_add", args=[patient.pk]), lesion_form(**{field: value})
    )
    assert response.status_code == 400
    assert response.context["form"].errors.get(field)
    assert not patient.lesions.exists()


def test_editing_a_lesion_to_resolved_sets_the_resolved_date(dermatologist_client, lesion):
    response = dermatologist_client.post(
        reverse("treatments:lesion_edit", args=[lesion.pk]), edit_form(lesion, status="resolved")
    )
    assert response.status_code == 302
    assert response.url == reverse("treatments:patient_chart", args=[lesion.patient.pk])
    lesion.refresh_from_db()
    assert (lesion.status, lesion.resolved_on) == ("resolved", timezone.localdate())
    assert lesion.history.first().history_user == dermatologist_client.staff_member.user


def test_a_resolved_date_before_the_first_noted_date_is_refused(dermatologist_client, lesion):
    response = dermatologist_client.post(
        reverse("treatments:lesion_edit", args=[lesion.pk]),
        edit_form(lesion, status="resolved", resolved_on="2025-12-31"),
    )
    assert response.status_code == 400
    assert response.context["form"].errors["resolved_on"]
    lesion.refresh_from_db()
    assert (lesion.status, lesion.resolved_on) == ("active", None)


@pytest.mark.parametrize(("field", "value"), [("count", "0"), ("size_mm", "99")])
def test_bad_edits_show_form_errors_and_change_nothing(dermatologist_client, lesion, field, value):
    response = dermatologist_client.post(
        reverse("treatments:lesion_edit", args=[lesion.pk]), edit_form(lesion, **{field: value})
    )
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    lesion.refresh_from_db()
    assert (lesion.count, str(lesion.size_mm)) == (3, "1.5")


def test_the_edit_page_names_the_lesions_own_patient(dermatologist_client, lesion):
    response = dermatologist_client.get(reverse("treatments:lesion_edit", args=[lesion.pk]))
    assert lesion.patient.full_name in response.content.decode()
    assert response.context["form"].initial["site"] == "cheek_left"


def test_posting_without_a_csrf_token_is_refused(dermatologist_client, patient):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dermatologist_client.staff_member.user)
    response = client.post(reverse("treatments:lesion_add", args=[patient.pk]), lesion_form())
    assert response.status_code == 403
    assert not patient.lesions.exists()


def test_other_methods_are_not_allowed(dermatologist_client, lesion):
    response = dermatologist_client.delete(reverse("treatments:lesion_edit", args=[lesion.pk]))
    assert response.status_code == 405


def test_the_lesion_form_suggests_primary_milia_for_an_adult_and_neonatal_for_a_newborn(
    dermatologist_client,
):
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from ..factories import PatientFactory

    adult = PatientFactory()
    newborn = PatientFactory(date_of_birth=timezone.localdate() - timedelta(days=20))
    adult_form = dermatologist_client.get(
        reverse("treatments:lesion_add", args=[adult.pk])
    ).content.decode()
    newborn_form = dermatologist_client.get(
        reverse("treatments:lesion_add", args=[newborn.pk])
    ).content.decode()
    assert 'value="primary" selected' in adult_form
    assert 'value="neonatal" selected' in newborn_form
