"""The access matrix: every page of the app (outside the admin) × every role → the status
it must answer, with real objects from a small clinic. A new URL pattern without a row
here fails `test_every_url_pattern_has_an_expectation`."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image

from clinic.links import Action, link_open, link_token
from clinic.models import InboundSms
from treatments.models import (
    ClinicalPhoto,
    PhotoCheck,
    PhotoCheckImage,
    Procedure,
    ProcedureType,
    WaitlistEntry,
    private_photo_storage,
)
from treatments.services import records
from treatments.services.billing import invoice_issue, payment_record
from treatments.services.photo_checks import photo_check_submit
from treatments.services.photos import photo_add

from ..factories import (
    AppointmentFactory,
    FeeScheduleEntryFactory,
    GuardianFactory,
    LesionFactory,
    PatientFactory,
    RoomFactory,
)

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "receptionist", "dermatologist", "manager"]
ANY_STAFF = (302, 200, 200, 200)
FRONT_DESK = (302, 200, 403, 200)
CLINICIANS = (302, 403, 200, 403)
CLINICAL_READERS = (302, 403, 200, 200)
POST_ONLY = (405, 405, 405, 405)
MISSING_EXPORT = "00000000-0000-4000-8000-000000000000"
MANAGER_ONLY = (302, 403, 403, 200)

# url name: statuses of a GET for (anonymous, receptionist, dermatologist, manager)
EXPECTED = {
    "healthz": (503, 503, 503, 503),  # no beat heartbeat in the test clinic
    "login": (200, 302, 302, 302),  # a logged-in user is sent on
    "logout": POST_ONLY,
    "two_factor_verify": (302, 302, 302, 302),  # no device yet: to enrolment
    # Only right after an emailed link; with a password alone: 403 (issue 13).
    "two_factor_enrol": (302, 403, 403, 403),
    # Emailed links that set a password; a wrong token answers 400 with a page.
    "staff_setup": (400, 400, 400, 400),
    "password_reset": (200, 200, 200, 200),
    "password_reset_sent": (200, 200, 200, 200),
    "password_reset_confirm": (400, 400, 400, 400),
    "treatments:home": ANY_STAFF,
    # Not built yet (404); the manager dashboard is someone else's issue.
    "treatments:manager_dashboard": (302, 403, 403, {200, 404}),
    "treatments:patient_link": (400, 400, 400, 400),
    "treatments:patient_link_unsubscribe": (
        400,
        400,
        400,
        400,
    ),  # a bad token, as above  # a bad token; the token is the permission
    # The visit page's calendar file: a bad token, as above.
    "treatments:patient_link_calendar": (400, 400, 400, 400),
    "treatments:patient_search": ANY_STAFF,
    "treatments:patient_register": FRONT_DESK,
    "treatments:patient_detail": ANY_STAFF,
    "treatments:patient_edit": FRONT_DESK,
    "treatments:guardian_add": FRONT_DESK,
    "treatments:guardian_edit": FRONT_DESK,
    "treatments:guardian_remove": POST_ONLY,
    "treatments:guardian_make_recipient": POST_ONLY,
    "treatments:schedule_day": ANY_STAFF,
    "treatments:schedule_week": ANY_STAFF,
    "treatments:schedule_day_sheet": ANY_STAFF,
    "treatments:appointment_book": FRONT_DESK,
    "treatments:slot_picker": FRONT_DESK,
    "treatments:first_available": FRONT_DESK,
    "treatments:appointment_detail": ANY_STAFF,
    "treatments:appointment_reschedule": FRONT_DESK,
    "treatments:procedure_record": (302, 403, 302, 403),  # recorded already: to the record
    "treatments:appointment_action": POST_ONLY,
    "treatments:appointment_book_api": POST_ONLY,
    "treatments:first_available_api": (302, 400, 403, 400),  # no procedure: a 400 in JSON
    # A refused booking's nearest free times; without a search: a 400 with its errors.
    "treatments:alternatives_api": (302, 400, 403, 400),
    "treatments:slot_alternatives": (302, 400, 403, 400),
    # The FHIR API: a session is no token (401); the scope tables of each role a token can
    # hold are in tests/fhir_api/test_scopes_and_paging.py.
    "fhir:metadata": (200, 200, 200, 200),
    "fhir:token": POST_ONLY,
    "fhir:type": (401, 401, 401, 401),
    "fhir:instance": (401, 401, 401, 401),
    "fhir:everything": (401, 401, 401, 401),
    "fhir:media_content": (401, 401, 401, 401),
    "fhir:export": (401, 401, 401, 401),
    "fhir:export_status": (401, 401, 401, 401),
    "fhir:export_file": (401, 401, 401, 401),
    # The manager's download of an export's file; no such export here: 404.
    "fhir:export_download": (302, 403, 403, 404),
    "treatments:arrivals": ANY_STAFF,
    "treatments:waitlist": ANY_STAFF,
    "treatments:waitlist_add": FRONT_DESK,
    "treatments:waitlist_remove": POST_ONLY,
    "treatments:my_day": CLINICIANS,
    "treatments:patient_chart": CLINICAL_READERS,
    "treatments:alert_add": CLINICIANS,
    "treatments:procedure_detail": CLINICAL_READERS,
    # The record in this clinic is signed: its dermatologist is sent back to it (302),
    # and editing it answers 409 with the way to amend it.
    "treatments:procedure_sign": (302, 403, 302, 403),
    "treatments:procedure_revise": (302, 403, 409, 403),
    "treatments:procedure_amend": CLINICIANS,
    "treatments:procedure_handout": CLINICAL_READERS,
    "treatments:diagnosis_search": CLINICAL_READERS,  # codes only, no patient data
    # Billing documents (PDF) and the manager's reports (issue 20).
    "treatments:invoice_pdf": FRONT_DESK,
    "treatments:receipt_pdf": FRONT_DESK,
    "treatments:superbill_pdf": ANY_STAFF,
    "treatments:billing_email": POST_ONLY,
    "treatments:takings": MANAGER_ONLY,
    "treatments:takings_csv": MANAGER_ONLY,
    "treatments:charges_csv": (302, 403, 403, 400),  # no period asked: a 400 with the form
    "treatments:follow_up_list": ANY_STAFF,
    "treatments:follow_up_outcome": CLINICIANS,
    "treatments:lesion_add": CLINICIANS,
    "treatments:lesion_edit": CLINICIANS,
    "treatments:photo_upload": CLINICIANS,
    "treatments:photo_image": CLINICAL_READERS,
    "treatments:photo_thumbnail": CLINICAL_READERS,
    "treatments:lesion_compare": CLINICAL_READERS,
    # Patients' texts: the providers' webhooks (signed, POST only) and the desk's inbox.
    "treatments:sms_inbound_twilio": POST_ONLY,
    "treatments:sms_inbound_vonage": POST_ONLY,
    "treatments:sms_inbox": FRONT_DESK,
    "treatments:sms_mark_handled": POST_ONLY,
    # Patients online (issue 15): public, no login; a staff login changes nothing.
    "portal:robots_txt": (200, 200, 200, 200),
    "portal:book_start": (200, 200, 200, 200),
    "portal:book_details": (400, 400, 400, 400),  # no time chosen: "Choose a time first"
    "portal:booking_verify": (200, 200, 200, 200),  # the code form; a POST checks the code
    "portal:booking_choose": POST_ONLY,
    "portal:portal_home": (200, 200, 200, 200),  # no portal session: the code form
    "portal:portal_verify": (200, 200, 200, 200),
    "portal:portal_preferences": POST_ONLY,
    "portal:portal_logout": POST_ONLY,
    # Recurrence checks by photo: dermatologists review, managers read (issue 15).
    "treatments:photo_check_list": CLINICAL_READERS,
    "treatments:photo_check_detail": CLINICAL_READERS,
    "treatments:photo_check_image": CLINICAL_READERS,
    "treatments:photo_check_thumbnail": CLINICAL_READERS,
    # Billing (issue 20): the desk's page; its forms post.
    "treatments:patient_billing": FRONT_DESK,
    "treatments:payment_take": POST_ONLY,
    "treatments:payment_refund": POST_ONLY,
    "treatments:invoice_issue": POST_ONLY,
    # A dermatologist's calendar feed: a made-up token is 404 for everyone (no login); the
    # page to make or revoke its address is the dermatologist's own.
    "treatments:calendar_feed": (404, 404, 404, 404),
    "treatments:my_calendar_feed": CLINICIANS,
    "treatments:my_calendar_feed_new": POST_ONLY,
    "treatments:my_calendar_feed_revoke": POST_ONLY,
}


def app_view_names(patterns, namespace=""):
    """Each page's name as `reverse` takes it, with its app's namespace."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if getattr(pattern, "app_name", None) == "admin":
                continue  # the admin checks staff status and model permissions itself
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from app_view_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield namespace + pattern.name


NAMES = sorted(app_view_names(get_resolver().url_patterns))


def test_every_url_pattern_has_an_expectation():
    assert set(NAMES) == set(EXPECTED), "a page without a row in the access matrix"


def image_upload() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 150, 140)).save(buffer, "JPEG")
    return SimpleUploadedFile("lesion.jpg", buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def private_media(settings, tmp_path, monkeypatch):
    settings.CLINIC_PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    for model in (ClinicalPhoto, PhotoCheckImage):
        for name in ("image", "thumbnail"):
            monkeypatch.setattr(model._meta.get_field(name), "storage", private_photo_storage())


@pytest.fixture
def clinic(dermatologist_client, private_media):
    """One patient with a signed cryotherapy (so a follow-up), a lesion with a photo, a
    waitlist entry, an appointment tomorrow that can still be moved, and a guardian."""
    dermatologist = dermatologist_client.staff_member
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    FeeScheduleEntryFactory(cpt_code="17110", self_pay_price=Decimal("180.00"))
    room = RoomFactory()
    visit = AppointmentFactory(
        dermatologist=dermatologist, room=room, procedure_type=cryotherapy, status="checked_in"
    )
    patient = visit.patient
    lesion = LesionFactory(patient=patient)
    dermatologist_client.post(
        reverse("treatments:procedure_record", args=[visit.pk]),
        {
            "procedure_type": cryotherapy.pk,
            "lesions": [lesion.pk],
            "cryo_method": "spray",
            "freeze_seconds": "5",
            "freeze_thaw_cycles": "2",
            "halo_mm": "1",
            "consent_obtained": "on",
            "consent_given_by": "patient",
            "diagnosis_code": "L72.0",
            "note": "Tolerated well.",
        },
    )
    procedure = Procedure.objects.get()
    records.procedure_sign(procedure=procedure, by=dermatologist.user)  # its charge: 17110
    payment = payment_record(
        patient=patient, amount="50.00", method="cash", reference="", by=dermatologist.user
    )
    invoice = invoice_issue(patient=patient, by=dermatologist.user)
    photo = photo_add(
        patient=patient, uploaded_file=image_upload(), uploaded_by=dermatologist.user, lesion=lesion
    )
    tomorrow = timezone.now().replace(microsecond=0) + timedelta(days=1)
    upcoming = AppointmentFactory(
        patient=patient,
        dermatologist=dermatologist,
        room=room,
        procedure_type=cryotherapy,
        starts_at=tomorrow,
    )
    waiting = WaitlistEntry.objects.create(
        patient=patient,
        procedure_type=cryotherapy,
        earliest_date=tomorrow.date(),
        latest_date=tomorrow.date() + timedelta(days=14),
    )
    follow_up = procedure.follow_ups.get()
    photo_check = photo_check_submit(
        link=link_open(link_token(action=Action.PHOTO_CHECK, subject_id=follow_up.pk)),
        follow_up=follow_up,
        photos=[image_upload()],
        new_bumps=PhotoCheck.NewBumps.NO,
    )
    return {
        "patient": patient,
        "lesion": lesion,
        "procedure": procedure,
        "photo": photo,
        "photo_check": photo_check,
        "photo_check_image": photo_check.images.get(),
        "visit": visit,
        "upcoming": upcoming,
        "waiting": waiting,
        "follow_up": follow_up,
        "dermatologist": dermatologist,
        "guardian": GuardianFactory(patient=patient),
        "payment": payment,
        "invoice": invoice,
        "text": InboundSms.objects.create(
            provider="twilio",
            provider_message_id="SM" + "0" * 32,
            sender=str(patient.phone),
            body="Running late",
            received_at=timezone.now(),
            patient=patient,
        ),
    }


def url_for(name: str, objects: dict) -> str:
    """The page's address with real ids: each URL keyword gets the object it names."""
    kwargs_by_name = {
        "treatments:schedule_week": {"dermatologist_id": objects["dermatologist"].pk},
        "treatments:patient_link": {"token": "not-a-real-token"},
        "treatments:patient_link_unsubscribe": {"token": "not-a-real-token"},
        "treatments:patient_link_calendar": {"token": "not-a-real-token"},
        "treatments:calendar_feed": {"token": "not-a-real-token"},
        "staff_setup": {"uidb64": "MQ", "token": "not-a-real-token"},
        "password_reset_confirm": {"uidb64": "MQ", "token": "not-a-real-token"},
        "treatments:patient_detail": {"pk": objects["patient"].pk},
        "treatments:patient_edit": {"pk": objects["patient"].pk},
        "treatments:guardian_add": {"patient_id": objects["patient"].pk},
        "treatments:guardian_edit": {"pk": objects["guardian"].pk},
        "treatments:guardian_remove": {"pk": objects["guardian"].pk},
        "treatments:guardian_make_recipient": {"pk": objects["guardian"].pk},
        "treatments:appointment_detail": {"pk": objects["upcoming"].pk},
        "treatments:appointment_reschedule": {"pk": objects["upcoming"].pk},
        "treatments:procedure_record": {"pk": objects["visit"].pk},
        "treatments:appointment_action": {"pk": objects["upcoming"].pk, "action": "confirm"},
        "treatments:waitlist_remove": {"pk": objects["waiting"].pk},
        "treatments:procedure_detail": {"pk": objects["procedure"].pk},
        "treatments:procedure_sign": {"pk": objects["procedure"].pk},
        "treatments:procedure_revise": {"pk": objects["procedure"].pk},
        "treatments:procedure_amend": {"pk": objects["procedure"].pk},
        "treatments:procedure_handout": {"pk": objects["procedure"].pk},
        "treatments:follow_up_outcome": {"pk": objects["follow_up"].pk},
        "treatments:lesion_edit": {"pk": objects["lesion"].pk},
        "treatments:photo_image": {"pk": objects["photo"].pk},
        "treatments:photo_thumbnail": {"pk": objects["photo"].pk},
        "treatments:lesion_compare": {"lesion_id": objects["lesion"].pk},
        "treatments:sms_mark_handled": {"pk": objects["text"].pk},
        "portal:booking_verify": {"reference": "not-a-real-one"},
        "portal:booking_choose": {"reference": "not-a-real-one"},
        "portal:portal_verify": {"reference": "not-a-real-one"},
        "portal:portal_preferences": {"patient_id": objects["patient"].pk},
        "fhir:type": {"resource_type": "Patient"},
        "fhir:instance": {"resource_type": "Patient", "resource_id": objects["patient"].pk},
        "fhir:everything": {"resource_id": objects["patient"].pk},
        "fhir:media_content": {"resource_id": objects["photo"].pk},
        "fhir:export_status": {"export_id": MISSING_EXPORT},
        "fhir:export_file": {"export_id": MISSING_EXPORT, "file_name": "Patient.ndjson"},
        "fhir:export_download": {"export_id": MISSING_EXPORT, "file_name": "Patient.ndjson"},
        "treatments:photo_check_detail": {"pk": objects["photo_check"].pk},
        "treatments:photo_check_image": {"pk": objects["photo_check_image"].pk},
        "treatments:photo_check_thumbnail": {"pk": objects["photo_check_image"].pk},
        "treatments:invoice_pdf": {"pk": objects["invoice"].pk},
        "treatments:receipt_pdf": {"pk": objects["payment"].pk},
    }
    for name_with_patient in (
        "treatments:patient_chart",
        "treatments:alert_add",
        "treatments:lesion_add",
        "treatments:photo_upload",
        "treatments:patient_billing",
        "treatments:payment_take",
        "treatments:payment_refund",
        "treatments:invoice_issue",
        "treatments:superbill_pdf",
        "treatments:billing_email",
    ):
        kwargs_by_name[name_with_patient] = {"patient_id": objects["patient"].pk}
    query = {
        "treatments:appointment_book": "?patient=",
        "treatments:waitlist_add": "?patient=",
        "treatments:first_available": "?patient=",
    }.get(name, "")
    if query:
        query += str(objects["patient"].pk)
    if name == "treatments:superbill_pdf":  # the visit's day
        query = f"?date={timezone.localdate(objects['visit'].starts_at)}"
    if name == "treatments:schedule_day_sheet":  # the sheet of the visit's day
        day = timezone.localdate(objects["visit"].starts_at)
        query = f"?date={day}&dermatologist={objects['dermatologist'].pk}"
    return reverse(name, kwargs=kwargs_by_name.get(name, {})) + query


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_access_matrix(clinic, as_role, name):
    """Each role in turn, on one small clinic (built once per page, not per role)."""
    wrong = []
    for role, expected in zip(ROLES, EXPECTED[name], strict=True):
        status = as_role(role).get(url_for(name, clinic)).status_code
        if status not in (expected if isinstance(expected, set) else {expected}):
            wrong.append(f"{role}: {status}, expected {expected}")
    assert wrong == [], f"{name}: {wrong}"


# --- Object level: one patient's records are not reachable through another's pages ---


def test_a_photo_cannot_be_filed_under_another_patients_lesion(dermatologist_client, clinic):
    other = PatientFactory()
    response = dermatologist_client.post(
        reverse("treatments:photo_upload", args=[other.pk]),
        {"image": image_upload(), "lesion": clinic["lesion"].pk, "taken_on": "2026-02-03"},
    )
    assert response.status_code in (400, 200)
    assert not ClinicalPhoto.objects.filter(patient=other).exists()
    assert ClinicalPhoto.objects.filter(lesion=clinic["lesion"]).count() == 1


def test_the_upload_form_offers_only_the_patients_own_lesions(dermatologist_client, clinic):
    other = PatientFactory()
    LesionFactory(patient=other)
    page = dermatologist_client.get(
        reverse("treatments:photo_upload", args=[other.pk])
    ).content.decode()
    assert f'value="{clinic["lesion"].pk}"' not in page


def test_another_patients_follow_up_cannot_be_booked_for_this_one(receptionist_client, clinic):
    other = PatientFactory()
    page = receptionist_client.get(
        reverse("treatments:appointment_book")
        + f"?patient={other.pk}&follow_up={clinic['follow_up'].pk}"
    )
    assert page.status_code in (200, 400)
    assert f'value="{clinic["follow_up"].pk}" selected' not in page.content.decode()


def test_another_patients_waitlist_entry_cannot_be_used_for_this_one(receptionist_client, clinic):
    other = PatientFactory()
    page = receptionist_client.get(
        reverse("treatments:appointment_book")
        + f"?patient={other.pk}&waitlist_entry={clinic['waiting'].pk}"
    )
    assert f'value="{clinic["waiting"].pk}" selected' not in page.content.decode()


# --- Photo checks: an id that does not exist ------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "treatments:photo_check_detail",
        "treatments:photo_check_image",
        "treatments:photo_check_thumbnail",
    ],
)
def test_a_photo_check_that_does_not_exist_is_404(dermatologist_client, name):
    assert dermatologist_client.get(reverse(name, args=[987654])).status_code == 404


def test_a_manager_reads_a_photo_check_but_cannot_review_it(manager_client, clinic):
    lesion = clinic["lesion"]
    url = reverse("treatments:photo_check_detail", args=[clinic["photo_check"].pk])
    response = manager_client.post(url, {f"lesion-{lesion.pk}-decision": "resolved"})
    assert response.status_code == 403
    clinic["photo_check"].refresh_from_db()
    assert clinic["photo_check"].status == PhotoCheck.Status.SUBMITTED
