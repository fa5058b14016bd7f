"""Finding a patient at the desk: patients.selectors.patient_search and its pages."""

import html
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.urls import reverse

from patients.models import Patient
from patients.selectors import patient_search, patient_search_page
from treatments.views.patients import SEARCH_AFTER_SALT

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = reverse("treatments:patient_search")


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
    assert reverse("treatments:patient_detail", args=[ana.pk]) in html
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
    assert 'data-hx-get="/patients/"' in html
    assert 'data-hx-target="#search-results"' in html
    assert 'data-hx-push-url="true"' in html
    assert 'value="garcia"' in html


def test_only_the_front_desk_is_offered_to_register_a_patient(
    receptionist_client, dermatologist_client
):
    register_url = reverse("treatments:patient_register").encode()
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


def test_after_a_position_the_search_continues_with_the_next_patient_of_the_same_name():
    first, second, third = PatientFactory.create_batch(3, first_name="Ana", last_name="Garcia")
    PatientFactory(first_name="Ana", last_name="Garciaz")
    after = first.pk
    assert list(patient_search(query="garcia", after=after))[:2] == [second, third]
    assert [p.last_name for p in patient_search(query="garcia", after=after)] == [
        "Garcia",
        "Garcia",
        "Garciaz",
    ]


def test_the_last_page_says_no_page_follows_even_when_it_is_full():
    patients = PatientFactory.create_batch(4, first_name="Ana", last_name="Garcia")
    first_page = patient_search_page(query="garcia", size=2)
    assert first_page.patients == patients[:2]
    assert first_page.next_after == patients[1].pk
    last_page = patient_search_page(query="garcia", size=2, after=first_page.next_after)
    assert last_page.patients == patients[2:]
    assert last_page.next_after is None


@pytest.fixture
def nguyens() -> list[int]:
    """120 Nguyens, 20 to each first name, created interleaved so that ids do not follow
    names, and four others that "nguyen" finds too; their ids in the database's order."""
    first_names = ["Em", "Anh", "Dung", "Chi", "Binh", "Giang"]
    for n in range(120):
        PatientFactory(first_name=first_names[n % len(first_names)], last_name="Nguyen")
    PatientFactory(first_name="Nguyen", last_name="Adams")
    PatientFactory.create_batch(2, first_name="Lan", last_name="Nguyen-Tran")
    PatientFactory(first_name="An", last_name="Nguyenova")
    # The database's collation decides where Nguyen-Tran goes, not Python's.
    in_order = Patient.objects.order_by("last_name", "first_name", "pk")
    return list(in_order.values_list("pk", flat=True))


def listed_ids(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<td><a href="/patients/(\d+)/">', page)]


def link_to(text: str, page: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{text}</a>', page)
    return html.unescape(found.group(1)) if found else None


def test_the_next_link_carries_no_patient_name(nguyens, receptionist_client):
    page = receptionist_client.get(URL, {"q": "nguyen"}).content.decode()
    token = parse_qs(urlsplit(link_to("Next results", page)).query)["after"][0]
    assert signing.loads(token, salt=SEARCH_AFTER_SALT) == listed_ids(page)[-1]
    assert "Nguyen" not in signing.b64_decode(token.split(":")[0].encode()).decode()


def test_walking_the_pages_visits_every_patient_once_in_name_order(nguyens, receptionist_client):
    url, pages = f"{URL}?q=nguyen", []
    while url:
        page = receptionist_client.get(url).content.decode()
        pages.append(listed_ids(page))
        url = link_to("Next results", page)
    assert [len(ids) for ids in pages] == [50, 50, 24]
    assert sum(pages, []) == nguyens
    # Both pages end inside a run of the same name, where only the id tells who is next.
    names = {p.pk: (p.last_name, p.first_name) for p in Patient.objects.all()}
    assert names[pages[0][-1]] == names[pages[1][0]] == ("Nguyen", "Chi")
    assert names[pages[1][-1]] == names[pages[2][0]] == ("Nguyen", "Em")


def test_the_first_page_of_many_offers_the_next_and_says_it_is_the_first(
    nguyens, receptionist_client
):
    page = receptionist_client.get(URL, {"q": "nguyen"}).content.decode()
    assert "The first 50 patients matching “nguyen”" in page
    assert link_to("Next results", page).startswith(f"{URL}?q=nguyen&after=")
    assert link_to("First results", page) is None


def test_a_later_page_links_back_to_the_first(nguyens, receptionist_client):
    first = receptionist_client.get(URL, {"q": "nguyen"}).content.decode()
    second = receptionist_client.get(link_to("Next results", first)).content.decode()
    assert "More patients matching “nguyen”: 50" in second
    assert link_to("First results", second) == f"{URL}?q=nguyen"
    third = receptionist_client.get(link_to("Next results", second)).content.decode()
    assert "More patients matching “nguyen”: 24" in third
    assert link_to("Next results", third) is None
    assert link_to("First results", third) == f"{URL}?q=nguyen"


def test_a_few_matches_fit_on_one_page_without_page_links(ana, others, receptionist_client):
    page = receptionist_client.get(URL, {"q": "garcia"}).content.decode()
    assert "Patients matching “garcia”: 2" in page
    assert link_to("Next results", page) is None
    assert link_to("First results", page) is None


def test_the_next_link_loads_a_whole_page_or_only_the_results_for_htmx(
    nguyens, receptionist_client
):
    first = receptionist_client.get(URL, {"q": "nguyen"}).content.decode()
    # htmx boosts the links: a click asks for the results alone, into the results region.
    assert '<nav aria-label="Pages of results" class="d-flex gap-3" data-hx-boost="true"' in first
    assert 'data-hx-target="#search-results"' in first
    next_url = link_to("Next results", first)
    whole = receptionist_client.get(next_url).content.decode()
    partial = receptionist_client.get(next_url, headers={"HX-Request": "true"})
    assert "<html" in whole
    assert 'value="nguyen"' in whole
    assert "<html" not in partial.content.decode()
    assert listed_ids(partial.content.decode()) == listed_ids(whole) == nguyens[50:100]
    assert "HX-Request" in partial["Vary"]


def _a_real_next_token(client) -> str:
    page = client.get(URL, {"q": "nguyen"}).content.decode()
    return parse_qs(urlsplit(link_to("Next results", page)).query)["after"][0]


@pytest.mark.parametrize(
    "make_token",
    [
        lambda real: "garbage",
        lambda real: real[:-1] + ("A" if real[-1] != "A" else "B"),  # a changed signature
        lambda real: signing.dumps(7, salt="another.purpose"),
        lambda real: signing.dumps(["Nguyen", "Chi", 1], salt=SEARCH_AFTER_SALT),  # names
        lambda real: signing.dumps("7", salt=SEARCH_AFTER_SALT),
        lambda real: signing.dumps({"after": 1}, salt=SEARCH_AFTER_SALT),
        lambda real: signing.dumps(True, salt=SEARCH_AFTER_SALT),
    ],
    ids=["garbage", "tampered", "other-salt", "names", "text-id", "object", "boolean"],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_damaged_results_link_is_refused_with_a_message(
    make_token, htmx, nguyens, receptionist_client
):
    token = make_token(_a_real_next_token(receptionist_client))
    headers = {"HX-Request": "true"} if htmx else {}
    response = receptionist_client.get(URL, {"q": "nguyen", "after": token}, headers=headers)
    assert response.status_code == 400
    page = response.content.decode()
    assert "This results link is damaged or out of date." in page
    assert link_to("Show the first results for “nguyen”", page) == f"{URL}?q=nguyen"
    assert listed_ids(page) == []


def test_an_empty_after_is_the_first_page(nguyens, receptionist_client):
    page = receptionist_client.get(URL, {"q": "nguyen", "after": ""}).content.decode()
    assert listed_ids(page) == nguyens[:50]


def test_a_later_page_takes_the_same_queries_as_the_first(
    nguyens, receptionist_client, django_assert_num_queries
):
    # 1 session, 2 user, 3 the user's staff member (role check), 4 the page's patients and
    # whether one more follows; no COUNT, and no lookup of the position.
    with django_assert_num_queries(4):
        first = receptionist_client.get(URL, {"q": "nguyen"}).content.decode()
    with django_assert_num_queries(4):
        second = receptionist_client.get(link_to("Next results", first))
    assert len(listed_ids(second.content.decode())) == 50


@pytest.mark.parametrize(
    "role, status",
    [("anonymous", 302), ("receptionist", 200), ("dermatologist", 200), ("manager", 200)],
)
def test_a_later_page_is_for_staff_only(role, status, nguyens, receptionist_client, as_role):
    token = _a_real_next_token(receptionist_client)
    response = as_role(role).get(URL, {"q": "nguyen", "after": token})
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith(f"{reverse('login')}?next=")
    else:
        assert listed_ids(response.content.decode()) == nguyens[50:100]
