"""The dermatologist's record pages: access, recording in the browser, signing, the chart."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from treatments.models import Amendment, Appointment, FollowUp, Procedure, ProcedureType
from treatments.selectors.records import TIMELINE_VISITS
from treatments.services import records
from treatments.services.photos import photo_add

from ...clinic.test_access_matrix import image_upload, private_media  # noqa: F401
from ...factories import AppointmentFactory, GuardianFactory, LesionFactory, UserFactory

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
        reverse("treatments:procedure_record", args=[checked_in.pk]), cryo_form(checked_in)
    )
    procedure = Procedure.objects.get()
    records.procedure_sign(procedure=procedure, by=checked_in.dermatologist.user)
    return procedure


PAGES = {
    # name: (statuses for anonymous, receptionist, dermatologist, manager), the object
    "treatments:patient_chart": ((302, 403, 200, 200), "patient"),
    "treatments:procedure_detail": ((302, 403, 200, 200), "procedure"),
    "treatments:procedure_handout": ((302, 403, 200, 200), "procedure"),
    "treatments:procedure_amend": ((302, 403, 200, 403), "procedure"),
    "treatments:procedure_record": ((302, 403, 302, 403), "appointment"),
    "treatments:alert_add": ((302, 403, 200, 403), "patient"),
    "treatments:follow_up_outcome": ((302, 403, 200, 403), "follow_up"),
    "treatments:follow_up_list": ((302, 200, 200, 200), None),
    "treatments:my_day": ((302, 403, 200, 403), None),
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
    "name",
    [
        "treatments:patient_chart",
        "treatments:procedure_detail",
        "treatments:procedure_handout",
        "treatments:alert_add",
    ],
)
def test_a_missing_object_is_a_404(dermatologist_client, name):
    assert dermatologist_client.get(reverse(name, args=[999999])).status_code == 404


def test_recording_in_the_browser_then_signing_locks_it(dermatologist_client, checked_in):
    url = reverse("treatments:procedure_record", args=[checked_in.pk])
    response = dermatologist_client.post(url, cryo_form(checked_in))
    procedure = Procedure.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("treatments:procedure_detail", args=[procedure.pk])
    assert procedure.procedure_code == "17110"

    dermatologist_client.post(reverse("treatments:procedure_sign", args=[procedure.pk]))
    procedure.refresh_from_db()
    assert procedure.is_signed

    again = dermatologist_client.post(url, cryo_form(checked_in, note="Overwritten"))
    assert again.status_code == 409
    procedure.refresh_from_db()
    assert procedure.note == "Tolerated well."


CURETTAGE = {
    "cryo_method": "",
    "freeze_seconds": "",
    "freeze_thaw_cycles": "",
    "halo_mm": "",
    "anesthetic": "none",
    "hemostasis": "pressure",
}
LIDOCAINE = {**CURETTAGE, "anesthetic": "lidocaine_1"}
EXTRACTION = {
    **CURETTAGE,
    "anesthetic": "",
    "hemostasis": "",
    "instrument": "needle",
    "lesions_cleared": "2",
}


@pytest.mark.parametrize(
    ("slug", "changes", "field", "message"),
    [
        ("cryotherapy", {"freeze_seconds": "90"}, "freeze_seconds", "A freeze of 1–30 seconds"),
        ("cryotherapy", {"freeze_seconds": "0"}, "freeze_seconds", "greater than or equal to 1"),
        ("cryotherapy", {"freeze_seconds": ""}, "freeze_seconds", "Required for this procedure"),
        ("cryotherapy", {"freeze_thaw_cycles": "4"}, "freeze_thaw_cycles", "One to three"),
        ("cryotherapy", {"cryo_method": ""}, "cryo_method", "Required for this procedure"),
        ("cryotherapy", {"cryo_method": "laser"}, "cryo_method", "Select a valid choice"),
        ("cryotherapy", {"halo_mm": "3.5"}, "halo_mm", "A halo of 0–3 mm"),
        ("cryotherapy", {"halo_mm": "-1"}, "halo_mm", "greater than or equal to 0"),
        ("curettage", {**CURETTAGE, "hemostasis": ""}, "hemostasis", "Required"),
        ("curettage", LIDOCAINE, "anesthetic_volume_ml", "Give the volume injected"),
        ("curettage", {**LIDOCAINE, "anesthetic_volume_ml": "12"}, "anesthetic_volume_ml",
         "Between 0.1 and 10 ml"),
        ("extraction", {**EXTRACTION, "needle_gauge": ""}, "needle_gauge", "needle's gauge"),
        ("extraction", {**EXTRACTION, "needle_gauge": "40"}, "needle_gauge",
         "less than or equal to 34"),
        ("extraction", {**EXTRACTION, "lesions_cleared": "7"}, "lesions_cleared",
         "Between 1 and the 6 milia treated"),
    ],
)  # fmt: skip
def test_each_bad_technique_value_is_a_form_error_and_nothing_is_written(
    dermatologist_client, checked_in, slug, changes, field, message
):
    """Each technique rule (the service's, before the database's check constraints, and
    the form's own bounds) answers 400 with the message at its field; no record, the visit
    still checked in, its lesions untouched."""
    chosen = ProcedureType.objects.get(slug=slug)
    response = dermatologist_client.post(
        reverse("treatments:procedure_record", args=[checked_in.pk]),
        cryo_form(checked_in, procedure_type=chosen.pk, **changes),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in html.unescape(error) for error in errors[field]), errors
    assert not Procedure.objects.exists()
    checked_in.refresh_from_db()
    assert checked_in.status == Appointment.Status.CHECKED_IN
    assert {lesion.status for lesion in checked_in.patient.lesions.all()} == {"active"}


def test_the_form_shows_only_the_chosen_types_fields(dermatologist_client, checked_in):
    curettage = ProcedureType.objects.get(slug="curettage")
    url = reverse("treatments:procedure_record", args=[checked_in.pk])
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
    response = dermatologist_client.post(reverse("treatments:procedure_sign", args=[draft.pk]))
    assert response.status_code == 403
    draft.refresh_from_db()
    assert not draft.is_signed


def test_an_amendment_through_the_page_sits_beside_the_original(dermatologist_client, signed):
    url = reverse("treatments:procedure_amend", args=[signed.pk])
    assert dermatologist_client.post(url, {"reason": "", "text": ""}).status_code == 400
    response = dermatologist_client.post(
        url, {"reason": "Site", "text": "Right lower eyelid."}, follow=True
    )
    page = response.content.decode()
    assert "Right lower eyelid." in page and "Tolerated well." in page
    assert "(original)" in page


def test_the_handout_prints_the_aftercare_and_the_check_date(dermatologist_client, signed):
    page = dermatologist_client.get(
        reverse("treatments:procedure_handout", args=[signed.pk])
    ).content.decode()
    assert "A blister may form" in page
    assert "handout.css" in page
    assert signed.follow_ups.get().due_on.strftime("%Y") in page


def test_the_handout_is_in_the_patients_language(dermatologist_client, signed):
    signed.patient.language = "es"
    signed.patient.save()

    page = dermatologist_client.get(
        reverse("treatments:procedure_handout", args=[signed.pk])
    ).content.decode()

    assert '<html lang="es">' in page
    assert "Instrucciones de cuidados posteriores" in page
    assert "¿Preguntas, o signos de infección" in page
    assert "A blister may form" in page  # the words the record was signed with


def test_the_chart_shows_alerts_lesions_and_the_timeline(dermatologist_client, signed):
    records.alert_add(patient=signed.patient, kind="allergy", description="Lidocaine", by=None)
    page = dermatologist_client.get(
        reverse("treatments:patient_chart", args=[signed.patient_id])
    ).content.decode()
    assert "Lidocaine" in page
    assert "Nose, tip and alae" in page
    assert reverse("treatments:procedure_detail", args=[signed.pk]) in page


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


def test_the_chart_costs_the_same_queries_for_one_visit_and_for_fifty_and_many_lesions(
    dermatologist_client, checked_in, django_assert_num_queries
):
    patient, cryotherapy = checked_in.patient, checked_in.procedure_type
    url = reverse("treatments:patient_chart", args=[patient.pk])
    record_cryotherapy(patient, cryotherapy)
    dermatologist_client.get(url)  # warm the session
    # 1. session, 2. user, 3. staff member (role check), 4. patient with guardians,
    # active alerts and photos, 5. the timeline's visits with dermatologist, type and
    # procedure (its type, number of lesions, amendments, follow-ups), 6. lesions,
    # 7. follow-ups, then 8. the access-log row for this look at the chart
    with django_assert_num_queries(8):
        dermatologist_client.get(url)
    for _ in range(49):
        record_cryotherapy(patient, cryotherapy)
    LesionFactory.create_batch(98, patient=patient)
    GuardianFactory.create_batch(2, patient=patient, receives_reminders=False)
    records.alert_add(patient=patient, kind="allergy", description="Lidocaine", by=None)
    amend_latest_procedure(patient)
    with django_assert_num_queries(8):
        response = dermatologist_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    # The first screen holds the latest visits; the others are a link away.
    assert page.count("Cryotherapy</a> on 1 lesion") == TIMELINE_VISITS
    assert "Older visits</a>" in page
    assert page.count(">Edit</a>") == 100  # every lesion is listed


def amend_latest_procedure(patient, reason="Site"):
    procedure = Procedure.objects.filter(patient=patient).latest("pk")
    records.procedure_sign(procedure=procedure, by=procedure.dermatologist.user)
    return records.procedure_amend(
        procedure=procedure, reason=reason, text="Right lower eyelid.", by=UserFactory()
    )


def timeline_pages(client, url) -> list[str]:
    """The chart, then each page that "Older visits" leads to, in order."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(response.content.decode())
        older = re.search(r'href="([^"]*\?before=\d+)#timeline-heading">Older visits', pages[-1])
        url = older.group(1) if older else None
    return pages


def test_older_visits_page_back_through_the_whole_timeline_once(dermatologist_client, checked_in):
    patient, cryotherapy = checked_in.patient, checked_in.procedure_type
    for _ in range(2 * TIMELINE_VISITS + 5):
        # All at the same minute: the key's id tells them apart.
        record_cryotherapy(patient, cryotherapy)
    procedures = set(Procedure.objects.filter(patient=patient).values_list("pk", flat=True))

    pages = timeline_pages(
        dermatologist_client, reverse("treatments:patient_chart", args=[patient.pk])
    )

    assert len(pages) == 3
    shown = [
        int(pk)
        for page in pages
        for pk in re.findall(r'<a href="/procedures/(\d+)/">Cryotherapy</a> on', page)
    ]
    assert sorted(shown) == sorted(procedures)
    record_link = reverse("treatments:procedure_record", args=[checked_in.pk])
    assert [record_link in page for page in pages] == [False, False, True]
    assert "Latest visits</a>" in pages[-1] and "Latest visits</a>" not in pages[0]


def test_a_visit_a_year_ago_is_on_the_older_visits_page(dermatologist_client, checked_in):
    patient, cryotherapy = checked_in.patient, checked_in.procedure_type
    for _ in range(TIMELINE_VISITS):
        record_cryotherapy(patient, cryotherapy)
    last_year = AppointmentFactory(
        patient=patient, starts_at=timezone.now() - timedelta(days=365), status="completed"
    )

    pages = timeline_pages(
        dermatologist_client, reverse("treatments:patient_chart", args=[patient.pk])
    )

    start = timezone.localtime(last_year.starts_at)
    day = f"{start.day} {start:%b %Y}"
    assert day not in pages[0] and day in pages[1]


@pytest.mark.parametrize("role_index", range(4), ids=ROLES)
def test_older_visits_admit_the_roles_the_chart_admits(as_role, signed, role_index):
    url = reverse("treatments:patient_chart", args=[signed.patient_id])
    response = as_role(ROLES[role_index]).get(url, {"before": signed.appointment_id})
    assert response.status_code == PAGES["treatments:patient_chart"][0][role_index]


@pytest.mark.parametrize(
    "before", ["", "abc", "0", "-3", "1.5", "12abc", " 12", "1e3", "１２", "9" * 19]
)
def test_a_damaged_older_visits_link_is_a_400_with_a_message(dermatologist_client, signed, before):
    url = reverse("treatments:patient_chart", args=[signed.patient_id])
    response = dermatologist_client.get(url, {"before": before})
    assert response.status_code == 400
    assert "This link to older visits is damaged" in response.content.decode()
    assert f'href="{url}"' in response.content.decode()


def test_older_visits_of_a_missing_patient_are_a_404(dermatologist_client, signed):
    url = reverse("treatments:patient_chart", args=[999999])
    assert dermatologist_client.get(url, {"before": signed.appointment_id}).status_code == 404


def test_a_visit_of_another_patient_shows_no_older_visits(dermatologist_client, signed):
    other = AppointmentFactory()
    url = reverse("treatments:patient_chart", args=[signed.patient_id])
    response = dermatologist_client.get(url, {"before": other.pk})
    assert response.status_code == 200
    assert "No older visits." in response.content.decode()


def test_the_timeline_shows_amendments_and_follow_ups_in_the_clinic_time(
    dermatologist_client, signed
):
    amendment = records.procedure_amend(
        procedure=signed,
        reason="Site",
        text="Right lower eyelid.",
        by=UserFactory(first_name="Ana", last_name="Ortiz"),
    )
    # 16:45 UTC is 12:45 in New York (daylight saving time).
    Amendment.objects.filter(pk=amendment.pk).update(
        created_at=datetime(2026, 7, 1, 16, 45, tzinfo=UTC)
    )
    follow_up = signed.follow_ups.get()
    due = f"{follow_up.due_on.day} {follow_up.due_on:%b %Y}"

    page = dermatologist_client.get(
        reverse("treatments:patient_chart", args=[signed.patient_id])
    ).content.decode()

    detail = reverse("treatments:procedure_detail", args=[signed.pk])
    assert re.search(
        rf"1 Jul 2026 12:45</span>\s*Amendment to <a href=\"{detail}\">Cryotherapy</a>"
        r" by Ana Ortiz: Site",
        page,
    )
    assert f"Recurrence check planned for {due}" in page
    assert f"Recurrence check due {due} · Due" in page
    assert reverse("treatments:follow_up_outcome", args=[follow_up.pk]) in page


def test_the_chart_names_guardians_and_shows_photos_to_compare(
    dermatologist_client,
    signed,
    private_media,  # noqa: F811
):
    patient = signed.patient
    GuardianFactory(patient=patient, first_name="Rosa", last_name="Diaz", relationship="mother")
    lesion = patient.lesions.first()
    by = dermatologist_client.staff_member.user
    first = photo_add(patient=patient, uploaded_file=image_upload(), uploaded_by=by, lesion=lesion)
    photo_add(patient=patient, uploaded_file=image_upload(), uploaded_by=by, lesion=lesion)

    page = dermatologist_client.get(
        reverse("treatments:patient_chart", args=[patient.pk])
    ).content.decode()

    assert "Guardian: Rosa Diaz (mother)" in page
    assert reverse("treatments:photo_thumbnail", args=[first.pk]) in page
    assert page.count(reverse("treatments:lesion_compare", args=[lesion.pk])) == 2


def test_a_manager_reads_the_chart_without_links_to_change_it(manager_client, signed):
    page = manager_client.get(
        reverse("treatments:patient_chart", args=[signed.patient_id])
    ).content.decode()
    assert "Nose, tip and alae" in page
    assert reverse("treatments:procedure_detail", args=[signed.pk]) in page
    assert "Edit</a>" not in page and "Record outcome" not in page and "Add an alert" not in page


def test_the_follow_up_list_offers_the_desk_a_booking_link(receptionist_client, signed):
    follow_up = signed.follow_ups.get()
    follow_up.due_on = timezone.localdate() - timedelta(days=2)
    follow_up.save()
    page = receptionist_client.get(reverse("treatments:follow_up_list")).content.decode()
    assert "overdue" in page
    assert f"follow_up={signed.follow_ups.get().pk}" in page
    assert "Record outcome" not in page


@pytest.fixture
def many_follow_ups(signed):
    """230 open follow-ups over 23 due dates, ten on each, created out of date order."""
    template = signed.follow_ups.get()
    today = timezone.localdate()
    template.due_on = today
    template.save()
    FollowUp.objects.bulk_create(
        FollowUp(
            patient=template.patient,
            procedure=template.procedure,
            kind=template.kind,
            due_on=today - timedelta(days=n % 23),
            created_by=template.created_by,
        )
        for n in range(229)
    )
    return list(
        FollowUp.objects.filter(status="open").order_by("due_on", "pk").values_list("pk", flat=True)
    )


def follow_up_ids(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'href="/follow-ups/(\d+)/outcome/"', page)]


def test_the_follow_ups_page_by_key_each_once_in_due_order(dermatologist_client, many_follow_ups):
    url, pages = reverse("treatments:follow_up_list"), []
    while url:
        page = dermatologist_client.get(url).content.decode()
        pages.append(follow_up_ids(page))
        found = re.search(r'<a href="([^"]+)">Next follow-ups</a>', page)
        url = html.unescape(found.group(1)) if found else None
    assert [len(ids) for ids in pages] == [100, 100, 30]
    assert sum(pages, []) == many_follow_ups
    assert "First follow-ups" in page


@pytest.mark.parametrize("after", ["", "abc", "0", "-3", "1.5", "9" * 19])
def test_a_damaged_follow_ups_link_is_a_400_with_a_message(receptionist_client, after):
    response = receptionist_client.get(reverse("treatments:follow_up_list"), {"after": after})
    assert response.status_code == 400
    assert "This link to more follow-ups is damaged" in response.content.decode()


def test_a_later_follow_ups_page_costs_the_queries_of_the_first(
    receptionist_client, many_follow_ups, django_assert_num_queries
):
    # session, user, staff member (role check), a page of follow-ups with their patients
    # and booked visits, the check's procedure type
    with django_assert_num_queries(5):
        receptionist_client.get(reverse("treatments:follow_up_list"))
    with django_assert_num_queries(5):
        receptionist_client.get(
            reverse("treatments:follow_up_list"), {"after": many_follow_ups[99]}
        )


def test_recording_outcomes_through_the_page(dermatologist_client, signed):
    follow_up = signed.follow_ups.get()
    lesions = list(signed.lesions.all())
    form = {
        f"lesion-{lesions[0].pk}-outcome": "resolved",
        f"lesion-{lesions[1].pk}-outcome": "complication",
        f"lesion-{lesions[1].pk}-complication": "",
    }
    bad = dermatologist_client.post(
        reverse("treatments:follow_up_outcome", args=[follow_up.pk]), form
    )
    assert bad.status_code == 400
    form[f"lesion-{lesions[1].pk}-complication"] = "hypopigmentation"
    good = dermatologist_client.post(
        reverse("treatments:follow_up_outcome", args=[follow_up.pk]), form
    )
    assert good.status_code == 302
    follow_up.refresh_from_db()
    assert follow_up.status == "done"


def test_clinical_posts_enforce_csrf(dermatologist_client, checked_in):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dermatologist_client.staff_member.user)
    response = client.post(
        reverse("treatments:procedure_record", args=[checked_in.pk]), cryo_form(checked_in)
    )
    assert response.status_code == 403
    assert not Procedure.objects.exists()


def test_a_user_without_a_role_cannot_read_a_chart(signed):
    client = Client()
    client.force_login(UserFactory())
    assert (
        client.get(reverse("treatments:patient_chart", args=[signed.patient_id])).status_code == 403
    )


def test_my_day_shows_another_day_and_leads_to_the_days_around_it(dermatologist_client):
    """Build around a "now" the test controls: the visits are the day after tomorrow."""
    me = dermatologist_client.staff_member
    day = timezone.localdate() + timedelta(days=2)
    starts_at = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(
        hours=10
    )
    later = AppointmentFactory(dermatologist=me, starts_at=starts_at)
    today = AppointmentFactory(dermatologist=me)

    page = dermatologist_client.get(reverse("treatments:my_day"), {"date": day.isoformat()})

    text = page.content.decode()
    assert page.status_code == 200
    assert html.escape(later.patient.full_name) in text
    assert html.escape(today.patient.full_name) not in text
    assert f'href="?date={(day - timedelta(days=1)).isoformat()}" rel="prev"' in text
    assert f'href="?date={(day + timedelta(days=1)).isoformat()}" rel="next"' in text
    assert f'href="?date={timezone.localdate().isoformat()}">Today<' in text


@pytest.mark.parametrize("bad", ["tomorrow", "2026-02-30", "9999-01-01"])
def test_my_day_answers_a_bad_date_with_a_400(dermatologist_client, bad):
    page = dermatologist_client.get(reverse("treatments:my_day"), {"date": bad})
    assert page.status_code == 400
