"""The dermatologist's record pages: access, recording in the browser, signing, the chart."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from treatments.models import Appointment, Procedure, ProcedureType
from treatments.services import records

from ..factories import AppointmentFactory, LesionFactory, UserFactory

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "receptionist", "dermatologist", "manager"]


@pytest.fixture
def checked_in(dermatologist_client, treatment_room):
    """A checked-in cryotherapy visit of the logged-in dermatologist, with two lesions."""
    visit = AppointmentFactory(
        dermatologist=dermatologist_client.staff_member,
        room=treatment_room,
        procedure_type=ProcedureType.objects.get(slug="cryotherapy"),
        status="checked_in",
    )
    LesionFactory(patient=visit.patient, count=2)
    LesionFactory(patient=visit.patient, count=4, site="nose_tip")
    return visit


def cryo_form(visit, **changes):
    form = {
        "procedure_type": visit.procedure_type_id,
        "lesions": [lesion.pk for lesion in visit.patient.lesions.all()],
        "cryo_method": "spray",
        "freeze_seconds": "5",
        "freeze_thaw_cycles": "2",
        "halo_mm": "1",
        "consent_obtained": "on",
        "consent_given_by": "patient",
        "diagnosis_code": "L72.0",
        "note": "Tolerated well.",
    }
    form.update(changes)
    return form


@pytest.fixture
def signed(checked_in, dermatologist_client):
    dermatologist_client.post(
        reverse("procedure_record", args=[checked_in.pk]), cryo_form(checked_in)
    )
    procedure = Procedure.objects.get()
    records.procedure_sign(procedure=procedure, by=checked_in.dermatologist.user)
    return procedure


PAGES = {
    # name: (statuses for anonymous, receptionist, dermatologist, manager), the object
    "patient_chart": ((302, 403, 200, 200), "patient"),
    "procedure_detail": ((302, 403, 200, 200), "procedure"),
    "procedure_handout": ((302, 403, 200, 200), "procedure"),
    "procedure_amend": ((302, 403, 200, 403), "procedure"),
    "procedure_record": ((302, 403, 302, 403), "appointment"),
    "alert_add": ((302, 403, 200, 403), "patient"),
    "follow_up_outcome": ((302, 403, 200, 403), "follow_up"),
    "follow_up_list": ((302, 200, 200, 200), None),
    "my_day": ((302, 403, 200, 403), None),
}


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("role_index", range(4), ids=ROLES)
def test_each_record_page_admits_the_roles_it_should(as_role, signed, name, role_index):
    statuses, subject = PAGES[name]
    objects = {
        "patient": signed.patient_id,
        "procedure": signed.pk,
        "appointment": signed.appointment_id,
        "follow_up": signed.follow_ups.get().pk,
    }
    args = [objects[subject]] if subject else []
    response = as_role(ROLES[role_index]).get(reverse(name, args=args))
    assert response.status_code == statuses[role_index]


@pytest.mark.parametrize(
    "name", ["patient_chart", "procedure_detail", "procedure_handout", "alert_add"]
)
def test_a_missing_object_is_a_404(dermatologist_client, name):
    assert dermatologist_client.get(reverse(name, args=[999999])).status_code == 404


def test_recording_in_the_browser_then_signing_locks_it(dermatologist_client, checked_in):
    url = reverse("procedure_record", args=[checked_in.pk])
    response = dermatologist_client.post(url, cryo_form(checked_in))
    procedure = Procedure.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("procedure_detail", args=[procedure.pk])
    assert procedure.procedure_code == "17110"

    dermatologist_client.post(reverse("procedure_sign", args=[procedure.pk]))
    procedure.refresh_from_db()
    assert procedure.is_signed

    again = dermatologist_client.post(url, cryo_form(checked_in, note="Overwritten"))
    assert again.status_code == 409
    procedure.refresh_from_db()
    assert procedure.note == "Tolerated well."


def test_bad_technique_values_are_form_errors_and_nothing_is_written(
    dermatologist_client, checked_in
):
    response = dermatologist_client.post(
        reverse("procedure_record", args=[checked_in.pk]),
        cryo_form(checked_in, freeze_seconds="90"),
    )
    assert response.status_code == 400
    assert "A freeze of 1–30 seconds" in response.content.decode()
    assert not Procedure.objects.exists()
    checked_in.refresh_from_db()
    assert checked_in.status == Appointment.Status.CHECKED_IN


def test_the_form_shows_only_the_chosen_types_fields(dermatologist_client, checked_in):
    curettage = ProcedureType.objects.get(slug="curettage")
    url = reverse("procedure_record", args=[checked_in.pk])
    cryo_page = dermatologist_client.get(url).content.decode()
    curettage_page = dermatologist_client.get(
        f"{url}?procedure_type={curettage.pk}"
    ).content.decode()
    assert 'name="freeze_seconds"' in cryo_page and 'name="hemostasis"' not in cryo_page
    assert 'name="hemostasis"' in curettage_page and 'name="freeze_seconds"' not in curettage_page


def test_another_dermatologist_cannot_sign(dermatologist_client, signed, checked_in):
    draft_visit = AppointmentFactory(procedure_type=checked_in.procedure_type, status="checked_in")
    LesionFactory(patient=draft_visit.patient)
    records.procedure_record(
        appointment=draft_visit,
        procedure_type=draft_visit.procedure_type,
        lesions=draft_visit.patient.lesions.all(),
        technique={"cryo_method": "spray", "freeze_seconds": 5, "freeze_thaw_cycles": 1},
        consent={"consent_obtained": True, "consent_given_by": "patient"},
        complications={},
        note="",
        by=draft_visit.dermatologist.user,
    )
    draft = Procedure.objects.get(appointment=draft_visit)
    response = dermatologist_client.post(reverse("procedure_sign", args=[draft.pk]))
    assert response.status_code == 403
    draft.refresh_from_db()
    assert not draft.is_signed


def test_an_amendment_through_the_page_sits_beside_the_original(dermatologist_client, signed):
    url = reverse("procedure_amend", args=[signed.pk])
    assert dermatologist_client.post(url, {"reason": "", "text": ""}).status_code == 400
    response = dermatologist_client.post(
        url, {"reason": "Site", "text": "Right lower eyelid."}, follow=True
    )
    page = response.content.decode()
    assert "Right lower eyelid." in page and "Tolerated well." in page
    assert "(original)" in page


def test_the_handout_prints_the_aftercare_and_the_check_date(dermatologist_client, signed):
    page = dermatologist_client.get(reverse("procedure_handout", args=[signed.pk])).content.decode()
    assert "A blister may form" in page
    assert "handout.css" in page
    assert signed.follow_ups.get().due_on.strftime("%Y") in page


def test_the_chart_shows_alerts_lesions_and_the_timeline(dermatologist_client, signed):
    records.alert_add(patient=signed.patient, kind="allergy", description="Lidocaine", by=None)
    page = dermatologist_client.get(
        reverse("patient_chart", args=[signed.patient_id])
    ).content.decode()
    assert "Lidocaine" in page
    assert "Nose, tip and alae" in page
    assert reverse("procedure_detail", args=[signed.pk]) in page


def record_cryotherapy(patient, procedure_type):
    visit = AppointmentFactory(patient=patient, procedure_type=procedure_type, status="checked_in")
    records.procedure_record(
        appointment=visit,
        procedure_type=procedure_type,
        lesions=patient.lesions.all()[:1],
        technique={"cryo_method": "spray", "freeze_seconds": 5, "freeze_thaw_cycles": 1},
        consent={"consent_obtained": True, "consent_given_by": "patient"},
        complications={},
        note="",
        by=visit.dermatologist.user,
    )


def test_the_chart_costs_the_same_queries_for_one_visit_and_for_fifty(
    dermatologist_client, checked_in, django_assert_num_queries
):
    patient, cryotherapy = checked_in.patient, checked_in.procedure_type
    url = reverse("patient_chart", args=[patient.pk])
    record_cryotherapy(patient, cryotherapy)
    dermatologist_client.get(url)  # warm the session
    # session, user, staff member (role check), patient, guardians, alerts, visits with
    # their procedures (dermatologist, room, type; procedure type, dermatologist,
    # signer), lesions with their links to those procedures, amendments, follow-ups,
    # photos, then the access-log row for this look at the chart
    with django_assert_num_queries(12):
        dermatologist_client.get(url)
    for _ in range(49):
        record_cryotherapy(patient, cryotherapy)
    with django_assert_num_queries(12):
        response = dermatologist_client.get(url)
    assert response.status_code == 200
    # the timeline holds the latest 50 entries (visits, procedures, follow-ups together)
    assert response.content.decode().count("Cryotherapy</a> on 1 lesion") > 10


def test_the_follow_up_list_offers_the_desk_a_booking_link(receptionist_client, signed):
    follow_up = signed.follow_ups.get()
    follow_up.due_on = timezone.localdate() - timedelta(days=2)
    follow_up.save()
    page = receptionist_client.get(reverse("follow_up_list")).content.decode()
    assert "overdue" in page
    assert f"follow_up={signed.follow_ups.get().pk}" in page
    assert "Record outcome" not in page


def test_recording_outcomes_through_the_page(dermatologist_client, signed):
    follow_up = signed.follow_ups.get()
    lesions = list(signed.lesions.all())
    form = {
        f"lesion-{lesions[0].pk}-outcome": "resolved",
        f"lesion-{lesions[1].pk}-outcome": "complication",
        f"lesion-{lesions[1].pk}-complication": "",
    }
    bad = dermatologist_client.post(reverse("follow_up_outcome", args=[follow_up.pk]), form)
    assert bad.status_code == 400
    form[f"lesion-{lesions[1].pk}-complication"] = "hypopigmentation"
    good = dermatologist_client.post(reverse("follow_up_outcome", args=[follow_up.pk]), form)
    assert good.status_code == 302
    follow_up.refresh_from_db()
    assert follow_up.status == "done"


def test_clinical_posts_enforce_csrf(dermatologist_client, checked_in):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dermatologist_client.staff_member.user)
    response = client.post(reverse("procedure_record", args=[checked_in.pk]), cryo_form(checked_in))
    assert response.status_code == 403
    assert not Procedure.objects.exists()


def test_a_user_without_a_role_cannot_read_a_chart(signed):
    client = Client()
    client.force_login(UserFactory())
    assert client.get(reverse("patient_chart", args=[signed.patient_id])).status_code == 403
