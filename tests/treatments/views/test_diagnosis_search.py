"""The diagnosis search endpoint of the record form, and the form's check of the codes."""

import pytest
from django.urls import reverse

from treatments.models import Procedure

from .test_query_counts import queries_of
from .test_records import checked_in, cryo_form  # noqa: F401

pytestmark = pytest.mark.django_db
URL = reverse("treatments:diagnosis_search")


def test_the_search_offers_epidermal_cyst_first_for_milia(dermatologist_client):
    response = dermatologist_client.get(URL, {"q": "milia", "limit": "3"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index('value="L72.0"') < page.index('value="L74.0"')
    assert page.count("<option") == 3


def test_the_record_forms_box_sends_its_own_name(dermatologist_client):
    page = dermatologist_client.get(URL, {"diagnosis_code": "L72"}).content.decode()
    assert '<option value="L72.0">L72.0 Epidermal cyst</option>' in page


def test_a_search_finding_nothing_says_so(dermatologist_client):
    page = dermatologist_client.get(URL, {"q": "zzqx"}).content.decode()
    assert "No billable code found." in page


@pytest.mark.parametrize("limit", ["0", "51", "many"])
def test_a_bad_limit_answers_400(dermatologist_client, limit):
    assert dermatologist_client.get(URL, {"q": "cyst", "limit": limit}).status_code == 400


def test_the_search_costs_the_same_queries_for_one_code_and_fifty(dermatologist_client):
    dermatologist_client.get(URL, {"q": "L72.0"})
    # session, user, staff member (role check); the codes are read from memory
    one = queries_of(lambda: dermatologist_client.get(URL, {"q": "L72.0"}))
    many = queries_of(lambda: dermatologist_client.get(URL, {"q": "cyst", "limit": "50"}))
    assert one == 3
    assert many == one


def record(client, visit, **changes):
    url = reverse("treatments:procedure_record", args=[visit.pk])
    return client.post(url, cryo_form(visit, **changes))


def test_the_record_keeps_its_diagnoses_in_order_as_the_code_set_writes_them(
    dermatologist_client,
    checked_in,  # noqa: F811
):
    response = record(
        dermatologist_client,
        checked_in,
        diagnosis_code="l720",
        secondary_diagnosis_codes="L70.0, l74.0",
    )
    assert response.status_code == 302
    procedure = Procedure.objects.get()
    assert procedure.diagnosis_codes == ["L72.0", "L70.0", "L74.0"]
    page = dermatologist_client.get(reverse("treatments:procedure_detail", args=[procedure.pk]))
    assert "L72.0, L70.0, L74.0" in page.content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"diagnosis_code": "L72"}, "L72 is not a billable ICD-10-CM code"),
        ({"diagnosis_code": "Q7Z9.X1"}, "Q7Z9.X1 is not a billable ICD-10-CM code"),
        ({"secondary_diagnosis_codes": "L70.0, XX1"}, "XX1 is not a billable ICD-10-CM code"),
        ({"secondary_diagnosis_codes": "L72.0"}, "Each diagnosis is listed once."),
        (
            {
                "secondary_diagnosis_codes": " ".join(f"L70.{n}" for n in (0, 1, 2, 3, 4, 5, 8, 9))
                + " L74.0 L74.1 L74.2 L74.3"
            },
            "A claim carries at most 12 diagnoses.",
        ),
    ],
)
def test_a_wrong_diagnosis_is_a_form_error_and_nothing_is_written(
    dermatologist_client,
    checked_in,  # noqa: F811
    changes,
    message,
):
    response = record(dermatologist_client, checked_in, **changes)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Procedure.objects.exists()


def test_the_record_form_offers_the_search_and_milia_by_default(
    dermatologist_client,
    checked_in,  # noqa: F811
):
    page = dermatologist_client.get(
        reverse("treatments:procedure_record", args=[checked_in.pk])
    ).content.decode()
    assert 'list="icd10-codes"' in page
    assert f'data-hx-get="{URL}"' in page
    assert 'name="diagnosis_code" value="L72.0"' in page
