"""Recurrence checks by photo (treatments/services/photo_checks.py and the pages behind the
check's link and in the dermatologists' queue): the photos are cleaned as staff photos
are, the link works once, the review closes the follow-up or invites the patient to book,
and every look is access-logged."""

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from clinic.links import Action, link_token
from clinic.models import AccessLog, Reminder
from patients.models import Lesion
from treatments.models import (
    ClinicalPhoto,
    FollowUp,
    FollowUpOutcome,
    PhotoCheck,
    PhotoCheckImage,
    Procedure,
    private_photo_storage,
)

from ...factories import AppointmentFactory, LesionFactory, PatientFactory

pytestmark = pytest.mark.django_db

GPS_INFO = 0x8825
MAKE = 0x010F
# Words that would tell a reader of the message what the patient was treated for.
CLINICAL_WORDS = ["milia", "milium", "lesion", "cryotherapy", "recur", "bump", "photo"]


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path, monkeypatch):
    settings.CLINIC_PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    for model in (ClinicalPhoto, PhotoCheckImage):
        for name in ("image", "thumbnail"):
            monkeypatch.setattr(model._meta.get_field(name), "storage", private_photo_storage())
    return settings.CLINIC_PRIVATE_MEDIA_ROOT


@pytest.fixture
def check(cryotherapy, dermatologist):
    """A signed cryotherapy of two lesions, its recurrence check due (open)."""
    patient = PatientFactory(reminder_consent=True, reminder_consent_changed_at=timezone.now())
    visit = AppointmentFactory(
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=timezone.now() - timedelta(weeks=6),
        status="completed",
    )
    procedure = Procedure.objects.create(
        appointment=visit,
        patient=patient,
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        performed_at=visit.starts_at,
        status=Procedure.Status.SIGNED,
        signed_at=visit.starts_at,
        signed_by=dermatologist.user,
    )
    lesions = [LesionFactory(patient=patient), LesionFactory(patient=patient, site="nose")]
    procedure.lesions.set(lesions)
    Lesion.objects.filter(pk__in=[lesion.pk for lesion in lesions]).update(
        status="treated", last_treated_on=timezone.localdate(visit.starts_at)
    )
    return FollowUp.objects.create(
        patient=patient,
        procedure=procedure,
        kind=FollowUp.Kind.RECURRENCE_CHECK,
        due_on=timezone.localdate(),
    )


def jpeg(size=(800, 600), **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 150, 140)).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def with_gps() -> bytes:
    exif = Image.Exif()
    exif[MAKE] = "CameraMaker"
    exif[GPS_INFO] = {1: "N", 2: (40.0, 44.0, 54.0), 3: "W", 4: (73.0, 59.0, 10.0)}
    return jpeg(exif=exif)


def upload(content: bytes, name="photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def photo_link(follow_up) -> str:
    token = link_token(action=Action.PHOTO_CHECK, subject_id=follow_up.pk)
    return reverse("treatments:patient_link", args=[token])


def send(client, url, *photos, new_bumps="no", where=""):
    data = {"new_bumps": new_bumps, "where": where}
    for number, content in enumerate(photos, start=1):
        data[f"photo_{number}"] = upload(content)
    return client.post(url, data)


def stored_files(root: Path) -> list[Path]:
    return [path for path in Path(root).rglob("*") if path.is_file()]


# --- The patient's side ---------------------------------------------------------------


def test_the_book_check_page_offers_to_send_photos_instead(client, check):
    token = link_token(action=Action.BOOK_CHECK, subject_id=check.pk)
    page = client.get(reverse("treatments:patient_link", args=[token])).content.decode()
    assert "Send photos instead" in page


def test_photos_are_stored_without_their_metadata(client, check):
    before = Image.open(io.BytesIO(with_gps()))
    assert before.getexif().get_ifd(GPS_INFO)[1] == "N"  # the upload does carry GPS

    response = send(client, photo_link(check), with_gps(), jpeg(), new_bumps="yes", where="nose")

    assert response.status_code == 200
    assert "We have your photos" in response.content.decode()
    photo_check = PhotoCheck.objects.get(follow_up=check)
    assert (photo_check.new_bumps, photo_check.where, photo_check.patient) == (
        "yes",
        "nose",
        check.patient,
    )
    images = list(photo_check.images.all())
    assert len(images) == 2
    with images[0].image.storage.open(images[0].image.name, "rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
        assert dict(stored.getexif()) == {}
        assert "exif" not in stored.info


def test_a_photo_larger_than_the_limit_is_refused_with_a_clear_message(
    client, check, settings, private_media
):
    settings.CLINIC_PHOTO_MAX_BYTES = 1024

    response = send(client, photo_link(check), jpeg())

    assert response.status_code == 400
    assert "This photo is larger than 1.0" in response.content.decode()
    assert not PhotoCheck.objects.exists() and stored_files(private_media) == []


def test_a_photo_of_too_many_pixels_is_refused_with_a_clear_message(client, check, settings):
    settings.CLINIC_PHOTO_MAX_PIXELS = 1_000_000

    response = send(client, photo_link(check), jpeg(size=(1001, 1000)))

    assert response.status_code == 400
    assert "more than 1 megapixels" in response.content.decode()
    assert not PhotoCheck.objects.exists()


def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_kept(client, check, private_media):
    response = send(client, photo_link(check), jpeg(), b"%PDF-1.4 not a photo")

    assert response.status_code == 400
    assert "not a JPEG or PNG photo" in response.content.decode()
    assert not PhotoCheck.objects.exists() and stored_files(private_media) == []


def test_without_a_photo_or_an_answer_the_form_says_so(client, check):
    response = client.post(photo_link(check), {"where": "nose"})
    assert response.status_code == 400
    assert not PhotoCheck.objects.exists()


def test_the_link_works_once_and_a_second_submission_gets_a_clear_page(client, check):
    url = photo_link(check)
    assert send(client, url, jpeg()).status_code == 200

    again = send(client, url, jpeg())
    another_link = send(client, photo_link(check), jpeg())
    reopened = client.get(url)

    assert again.status_code == 410 and reopened.status_code == 410
    assert "You have already sent photos for this check-up" in again.content.decode()
    assert another_link.status_code == 409
    assert "You have already sent photos for this check-up" in another_link.content.decode()
    assert PhotoCheck.objects.count() == 1 and PhotoCheckImage.objects.count() == 1


def test_a_closed_check_takes_no_photos(client, check):
    check.status = FollowUp.Status.CANCELLED
    check.save()
    response = client.get(photo_link(check))
    assert response.status_code == 409
    assert "called off" in response.content.decode()


# --- The dermatologist's side ---------------------------------------------------------


@pytest.fixture
def sent(client, check):
    assert send(client, photo_link(check), jpeg(), new_bumps="yes", where="nose").status_code == 200
    return PhotoCheck.objects.get(follow_up=check)


def decide(client, photo_check, decisions: dict[Lesion, str]):
    data = {f"lesion-{lesion.pk}-decision": decision for lesion, decision in decisions.items()}
    return client.post(reverse("treatments:photo_check_detail", args=[photo_check.pk]), data)


def lesions_of(photo_check) -> list[Lesion]:
    return list(photo_check.follow_up.procedure.lesions.order_by("pk"))


def test_the_queue_and_my_day_show_the_waiting_check(dermatologist_client, sent):
    queue = dermatologist_client.get(reverse("treatments:photo_check_list")).content.decode()
    my_day = dermatologist_client.get(reverse("treatments:my_day")).content.decode()

    assert sent.patient.full_name in queue and "Yes: nose" in queue
    assert "Photo checks waiting for review: 1" in my_day


def test_viewing_a_check_and_its_photos_writes_the_access_log(dermatologist_client, sent):
    AccessLog.objects.all().delete()
    user = dermatologist_client.staff_member.user
    image = sent.images.get()

    page = dermatologist_client.get(reverse("treatments:photo_check_detail", args=[sent.pk]))
    photo = dermatologist_client.get(reverse("treatments:photo_check_image", args=[image.pk]))

    assert page.status_code == 200 and photo.status_code == 200
    assert photo["Cache-Control"] == "private, no-store"
    rows = list(AccessLog.objects.values_list("user", "patient", "action"))
    assert rows == [(user.pk, sent.patient_id, AccessLog.Action.PHOTO_VIEW)] * 2


def test_the_check_is_shown_beside_the_lesions_earlier_photos(dermatologist_client, sent):
    first = lesions_of(sent)[0]
    earlier = ClinicalPhoto.objects.create(
        patient=sent.patient,
        lesion=first,
        image="photos/earlier.jpg",
        thumbnail="photos/earlier-thumbnail.jpg",
        content_type="image/jpeg",
        width=10,
        height=10,
        taken_on=date(2026, 1, 10),
        uploaded_by=dermatologist_client.staff_member.user,
    )
    page = dermatologist_client.get(
        reverse("treatments:photo_check_detail", args=[sent.pk])
    ).content.decode()

    assert reverse("treatments:photo_thumbnail", args=[earlier.pk]) in page
    assert page.count("No earlier photos of this lesion.") == 1  # the second lesion


def test_resolved_closes_the_follow_up_and_sends_nothing(dermatologist_client, sent):
    response = decide(dermatologist_client, sent, dict.fromkeys(lesions_of(sent), "resolved"))

    assert response.status_code == 302
    sent.refresh_from_db()
    follow_up = sent.follow_up
    follow_up.refresh_from_db()
    assert (sent.status, sent.result) == (PhotoCheck.Status.REVIEWED, "resolved")
    assert sent.reviewed_by == dermatologist_client.staff_member.user
    assert follow_up.status == FollowUp.Status.DONE
    assert set(FollowUpOutcome.objects.values_list("outcome", flat=True)) == {"resolved"}
    assert {lesion.status for lesion in lesions_of(sent)} == {Lesion.Status.RESOLVED}
    assert not Reminder.objects.filter(source_key__startswith="follow-up:").exists()


def test_recurred_closes_the_check_and_invites_the_patient_to_book_the_recheck(
    dermatologist_client, sent
):
    first, second = lesions_of(sent)
    decide(dermatologist_client, sent, {first: "recurred", second: "resolved"})

    recheck = FollowUp.objects.get(kind=FollowUp.Kind.RECHECK, status=FollowUp.Status.OPEN)
    invitation = Reminder.objects.get(source_key=f"follow-up:{recheck.pk}")
    assert invitation.kind == Reminder.Kind.RECURRENCE_CHECK
    assert invitation.context["links"]["book_url"] == [Action.BOOK_CHECK, recheck.pk]
    assert not any(word in str(invitation.context).lower() for word in CLINICAL_WORDS)
    sent.refresh_from_db()
    assert sent.result == "recurred"


def test_needs_a_visit_keeps_the_follow_up_open_and_invites_the_patient(dermatologist_client, sent):
    first, second = lesions_of(sent)
    decide(dermatologist_client, sent, {first: "needs_visit", second: "resolved"})

    follow_up = FollowUp.objects.get(pk=sent.follow_up_id)
    assert follow_up.status == FollowUp.Status.OPEN
    assert not FollowUpOutcome.objects.exists()  # recorded at the visit
    invitation = Reminder.objects.get(source_key=f"follow-up:{follow_up.pk}")
    assert invitation.context["links"]["book_url"] == [Action.BOOK_CHECK, follow_up.pk]


def test_a_decision_missing_for_a_lesion_is_a_400_and_nothing_is_recorded(
    dermatologist_client, sent
):
    first, _second = lesions_of(sent)
    response = decide(dermatologist_client, sent, {first: "resolved"})

    assert response.status_code == 400
    sent.refresh_from_db()
    assert sent.status == PhotoCheck.Status.SUBMITTED
    assert not FollowUpOutcome.objects.exists()


def test_a_check_reviewed_already_is_a_409(dermatologist_client, sent):
    decisions = dict.fromkeys(lesions_of(sent), "resolved")
    decide(dermatologist_client, sent, decisions)

    again = decide(dermatologist_client, sent, decisions)

    assert again.status_code == 409
    assert FollowUpOutcome.objects.count() == 2


def test_the_queue_reads_in_the_same_queries_for_one_check_and_for_many(
    dermatologist_client, sent, cryotherapy, dermatologist, django_assert_num_queries
):
    url = reverse("treatments:photo_check_list")
    # 1-2. the session and its user; 3. the staff member (role); 4. the waiting checks
    # with their patient, follow-up, procedure and type; 5. the access-log rows (one
    # INSERT for all patients listed)
    dermatologist_client.get(url)
    with django_assert_num_queries(5):
        assert dermatologist_client.get(url).status_code == 200
    for _ in range(3):
        follow_up = FollowUp.objects.create(
            patient=PatientFactory(),
            kind=FollowUp.Kind.RECHECK,
            due_on=timezone.localdate(),
        )
        PhotoCheck.objects.create(
            follow_up=follow_up,
            patient=follow_up.patient,
            submitted_at=timezone.now(),
            new_bumps="no",
        )
    with django_assert_num_queries(5):
        page = dermatologist_client.get(url).content.decode()
    assert page.count("Review</a>") == 4


def test_the_review_page_reads_in_the_same_queries_for_few_and_many_photos(
    dermatologist_client, sent, django_assert_num_queries
):
    url = reverse("treatments:photo_check_detail", args=[sent.pk])
    dermatologist_client.get(url)
    # 1-3. session, user, staff member; 4. the check with its patient, follow-up,
    # procedure, type and reviewer; 5. its images; 6. the lesions; 7. their photos;
    # 8. the check's patient, for the access log; 9. the access-log row
    with django_assert_num_queries(9):
        dermatologist_client.get(url)
    for lesion in lesions_of(sent):
        for day in (1, 2):
            ClinicalPhoto.objects.create(
                patient=sent.patient,
                lesion=lesion,
                image="photos/x.jpg",
                thumbnail="photos/x-thumbnail.jpg",
                content_type="image/jpeg",
                width=10,
                height=10,
                taken_on=date(2026, 1, day),
                uploaded_by=dermatologist_client.staff_member.user,
            )
    with django_assert_num_queries(9):
        assert dermatologist_client.get(url).status_code == 200
