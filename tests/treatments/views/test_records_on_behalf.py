"""Recording another dermatologist's visit in the browser: only explicitly on their behalf,
and the record, the signing page and the history say so. The procedure code's format."""

import html

import pytest
from django.test import Client
from django.urls import reverse

from treatments.models import Appointment, Procedure, ProcedureType

from ...factories import AppointmentFactory, LesionFactory, StaffMemberFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db):
    """The visit's dermatologist, logged in."""
    return logged_in(StaffMemberFactory(user=UserFactory(first_name="Ana", last_name="Ortiz")))


@pytest.fixture
def colleague(db):
    """Another dermatologist, logged in."""
    return logged_in(StaffMemberFactory(user=UserFactory(first_name="Ben", last_name="Okafor")))


def logged_in(staff_member) -> Client:
    client = Client()
    client.force_login(staff_member.user)
    client.staff_member = staff_member
    return client


@pytest.fixture
def visit(owner, treatment_room):
    """A checked-in cryotherapy visit of Dr. Ana Ortiz, with one lesion."""
    appointment = AppointmentFactory(
        dermatologist=owner.staff_member,
        room=treatment_room,
        procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
        status=Appointment.Status.CHECKED_IN,
    )
    LesionFactory(patient=appointment.patient, count=2)
    return appointment


def cryo_form(visit, **changes):
    return {
        "procedure_type": visit.procedure_type_id,
        "lesions": [lesion.pk for lesion in visit.patient.lesions.all()],
        "cryo_method": "spray",
        "freeze_seconds": "5",
        "freeze_thaw_cycles": "2",
        "consent_obtained": "on",
        "consent_given_by": "patient",
        "diagnosis_code": "L72.0",
        "note": "Tolerated well.",
        **changes,
    }


def page(response) -> str:
    return html.unescape(response.content.decode())


def record_url(visit) -> str:
    return reverse("treatments:procedure_record", args=[visit.pk])


def test_the_visits_dermatologist_is_not_asked_about_recording_on_behalf(owner, visit):
    form = page(owner.get(record_url(visit)))

    assert 'name="on_behalf"' not in form
    assert "on their behalf" not in form


def test_another_dermatologist_is_told_whose_visit_it_is_and_offered_on_behalf(colleague, visit):
    form = page(colleague.get(record_url(visit)))

    assert "This is Dr. Ana Ortiz's visit. You can record it only on their behalf" in form
    assert 'name="on_behalf"' in form
    assert "I record this visit on behalf of Dr. Ana Ortiz" in form


def test_another_dermatologist_without_ticking_on_behalf_gets_a_form_error_and_nothing_is_written(
    colleague, visit
):
    response = colleague.post(record_url(visit), cryo_form(visit))

    assert response.status_code == 400
    assert "Record it only on Dr. Ana Ortiz's behalf" in page(response)
    assert not Procedure.objects.exists()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CHECKED_IN


def test_a_record_made_on_behalf_says_so_on_the_record_the_signing_page_and_the_history(
    owner, colleague, visit
):
    response = colleague.post(record_url(visit), cryo_form(visit, on_behalf="on"))
    procedure = Procedure.objects.get()
    detail = reverse("treatments:procedure_detail", args=[procedure.pk])
    assert response.status_code == 302 and response["Location"] == detail
    assert (procedure.dermatologist, procedure.created_by) == (
        owner.staff_member,
        colleague.staff_member.user,
    )
    assert procedure.recorded_on_behalf

    authors_view = page(colleague.get(detail))
    assert "recorded by Dr. Ben Okafor on behalf of Dr. Ana Ortiz" in authors_view
    assert "Sign and lock" not in authors_view
    signing_page = page(owner.get(detail))
    assert "recorded by Dr. Ben Okafor on behalf of Dr. Ana Ortiz" in signing_page
    assert "Dr. Ben Okafor recorded this visit on your behalf. Check it before you sign" in (
        signing_page
    )
    assert "Sign and lock" in signing_page
    assert "Recorded on behalf of Dr. Ana Ortiz · Dr. Ben Okafor" in signing_page

    assert owner.post(reverse("treatments:procedure_sign", args=[procedure.pk])).status_code == 302
    signed_page = page(owner.get(detail))
    assert "recorded by Dr. Ben Okafor on behalf of Dr. Ana Ortiz" in signed_page
    chart = page(owner.get(reverse("treatments:patient_chart", args=[visit.patient_id])))
    assert "Signed · recorded on behalf by Dr. Ben Okafor" in chart
    history = signed_page.split('id="record-history"', 1)[1]
    assert history.index("Recorded on behalf of Dr. Ana Ortiz · Dr. Ben Okafor") < history.index(
        "Signed and locked · Dr. Ana Ortiz"
    )


def test_the_author_of_a_record_made_on_behalf_cannot_sign_it(colleague, visit):
    colleague.post(record_url(visit), cryo_form(visit, on_behalf="on"))
    procedure = Procedure.objects.get()

    response = colleague.post(reverse("treatments:procedure_sign", args=[procedure.pk]))

    assert response.status_code == 403
    procedure.refresh_from_db()
    assert not procedure.is_signed


def test_a_record_of_ones_own_visit_says_nothing_of_anyone_elses_behalf(owner, visit):
    owner.post(record_url(visit), cryo_form(visit))
    procedure = Procedure.objects.get()

    detail = page(owner.get(reverse("treatments:procedure_detail", args=[procedure.pk])))

    assert "on behalf" not in detail and "on your behalf" not in detail
    assert "Recorded · Dr. Ana Ortiz" in detail


@pytest.mark.parametrize("code", ["=1+1", "1711", "17110x", "@SUM(1)", "+17110"])
def test_a_procedure_code_that_is_not_cpt_is_a_form_error_and_nothing_is_written(
    owner, visit, code
):
    response = owner.post(record_url(visit), cryo_form(visit, procedure_code=code))

    assert response.status_code == 400
    assert "A CPT code is five digits, or four digits and F or T" in page(response)
    assert not Procedure.objects.exists()


@pytest.mark.parametrize(("typed", "stored"), [(" 17111 ", "17111"), ("3008f", "3008F")])
def test_a_cpt_code_is_stored_trimmed_and_in_capitals(owner, visit, typed, stored):
    owner.post(record_url(visit), cryo_form(visit, procedure_code=typed))

    procedure = Procedure.objects.get()
    assert (procedure.procedure_code, procedure.procedure_code_overridden) == (stored, True)
