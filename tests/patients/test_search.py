"""Finding a patient at the desk: patients.selectors.patient_search and its page."""

from datetime import date

import pytest
from django.urls import reverse

from patients.selectors import patient_search

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = reverse("patient_search")


@pytest.fixture
def ana():
    return PatientFactory(
        first_name="Ana", last_name="Garcia", date_of_birth=date(1990, 5, 17), phone="+12125550143"
    )


@pytest.fixture
def others():
    return [
        PatientFactory(
            first_name="Garcia",
            last_name="Lopez",
            date_of_birth=date(1985, 1, 2),
            phone="+12125559876",
        ),
        PatientFactory(
            first_name="Tom",
            last_name="Jones",
            date_of_birth=date(1990, 5, 18),
            phone="+14155550199",
        ),
    ]


def found(query: str) -> list[str]:
    return [p.full_name for p in patient_search(query=query)]


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


@pytest.mark.parametrize(
    "role_client", ["receptionist_client", "dermatologist_client", "manager_client"]
)
def test_every_role_may_search(role_client, request):
    response = request.getfixturevalue(role_client).get(URL)
    assert response.status_code == 200
    assert b'name="q"' in response.content


def test_a_partial_last_name_in_lowercase_finds_the_patient(ana, others):
    assert found("garc") == ["Ana Garcia", "Garcia Lopez"]


def test_a_first_name_alone_finds_the_patient(ana, others):
    assert found("ANA") == ["Ana Garcia"]


def test_first_and_last_name_in_either_order_find_the_patient(ana, others):
    assert found("ana garcia") == ["Ana Garcia"]
    assert found("Garcia  Ana") == ["Ana Garcia"]


def test_a_name_that_nobody_has_finds_nobody(ana, others):
    assert found("ana jones") == []
    assert found("smith") == []


def test_a_date_of_birth_in_iso_format_finds_the_patient(ana, others):
    assert found("1990-05-17") == ["Ana Garcia"]


def test_a_date_of_birth_in_us_format_finds_the_patient(ana, others):
    assert found("05/17/1990") == ["Ana Garcia"]


def test_part_of_a_phone_number_with_punctuation_finds_the_patient(ana, others):
    assert found("(212) 555-01") == ["Ana Garcia"]
    assert found("555 0143") == ["Ana Garcia"]


def test_a_phone_number_with_its_country_code_finds_the_patient(ana, others):
    assert found("+1 212-555-0143") == ["Ana Garcia"]
    assert found("+12125550143") == ["Ana Garcia"]


def test_a_phone_number_nobody_has_finds_nobody(ana, others):
    assert found("212 555 0144") == []


def test_results_are_bounded_by_the_limit_and_ordered_by_name():
    PatientFactory.create_batch(5, last_name="Smith")
    PatientFactory(first_name="Al", last_name="Adams", phone="+12125550001")
    PatientFactory(first_name="Al", last_name="Abbott", phone="+12125550002")
    assert [p.last_name for p in patient_search(query="a", limit=2)] == ["Abbott", "Adams"]


def test_an_empty_query_finds_nobody_without_asking_the_database(ana, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert list(patient_search(query="   ")) == []


def test_the_page_lists_matches_with_birthday_age_phone_and_a_link(ana, receptionist_client):
    response = receptionist_client.get(URL, {"q": "garcia"})
    html = response.content.decode()
    assert reverse("patient_detail", args=[ana.pk]) in html
    assert "Garcia, Ana" in html
    assert "1990-05-17" in html
    assert f"<td>{ana.age()}</td>" in html
    assert "+1 212-555-0143" in html


def test_the_page_without_a_query_shows_a_hint_and_no_patients(ana, receptionist_client):
    response = receptionist_client.get(URL)
    assert "Type a name" in response.content.decode()
    assert "Garcia" not in response.content.decode()


def test_the_page_says_so_when_nobody_matches(ana, receptionist_client):
    response = receptionist_client.get(URL, {"q": "nobody"})
    assert "No patient matches" in response.content.decode()


def test_an_htmx_request_gets_only_the_results(ana, receptionist_client):
    response = receptionist_client.get(URL, {"q": "garcia"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "Garcia, Ana" in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_a_plain_request_gets_the_whole_page_with_live_search(ana, receptionist_client):
    html = receptionist_client.get(URL, {"q": "garcia"}).content.decode()
    assert "<html" in html
    assert "Garcia, Ana" in html
    assert 'hx-get="/patients/"' in html
    assert 'hx-target="#search-results"' in html
    assert 'hx-push-url="true"' in html
    assert 'value="garcia"' in html


def test_only_the_front_desk_is_offered_to_register_a_patient(
    receptionist_client, dermatologist_client
):
    register_url = reverse("patient_register").encode()
    assert register_url in receptionist_client.get(URL).content
    assert register_url not in dermatologist_client.get(URL).content


@pytest.mark.parametrize("matching", [1, 30])
def test_a_search_takes_the_same_queries_for_one_or_many_patients(
    matching, receptionist_client, django_assert_num_queries
):
    PatientFactory.create_batch(matching, last_name="Garcia")
    # 1 session, 2 user, 3 the user's staff member (role check), 4 the matching patients.
    with django_assert_num_queries(4):
        response = receptionist_client.get(URL, {"q": "garcia"})
    assert response.content.decode().count("Garcia, ") == matching
