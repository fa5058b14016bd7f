"""Clinical photos: checked and cleaned on upload, stored privately, served to clinicians only."""

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageCms, PngImagePlugin

from treatments.models import ClinicalPhoto, private_photo_storage
from treatments.services.photos import photo_add

from ...factories import (
    AppointmentFactory,
    LesionFactory,
    PatientFactory,
    StaffMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

GPS_INFO = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path, monkeypatch):
    """Each test's photos in its own folder.

    The photo fields built their storage when the model was loaded, so pointing the setting
    elsewhere is not enough: they are given a storage made from the new setting too.
    """
    settings.CLINIC_PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    for name in ("image", "thumbnail"):
        field = ClinicalPhoto._meta.get_field(name)
        monkeypatch.setattr(field, "storage", private_photo_storage())
    return settings.CLINIC_PRIVATE_MEDIA_ROOT


@pytest.fixture
def patient():
    return PatientFactory()


@pytest.fixture
def lesion(patient):
    return LesionFactory(patient=patient)


def image_bytes(image_format="JPEG", size=(800, 600), colour=(200, 150, 140), **options) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if image_format == "PNG" else "RGB"
    Image.new(mode, size, colour).save(buffer, image_format, **options)
    return buffer.getvalue()


def upload(content: bytes, name="photo.jpg", content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(root: Path) -> list[Path]:
    return [path for path in Path(root).rglob("*") if path.is_file()]


def opened(field_file) -> Image.Image:
    with field_file.storage.open(field_file.name, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def add_photo(patient, content=None, **kwargs) -> ClinicalPhoto:
    kwargs.setdefault("lesion", LesionFactory(patient=patient))
    return photo_add(
        patient=patient,
        uploaded_file=upload(content or image_bytes()),
        uploaded_by=UserFactory(),
        **kwargs,
    )


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "CameraMaker"
    exif[GPS_INFO] = {1: "N", 2: (40.0, 44.0, 54.0), 3: "W", 4: (73.0, 59.0, 10.0)}
    return exif


# --- The service: what is accepted, what is stored -----------------------------------


@pytest.mark.parametrize(
    ("image_format", "name", "content_type"),
    [("JPEG", "lesion.jpg", "image/jpeg"), ("PNG", "lesion.png", "image/png")],
)
def test_a_jpeg_or_png_upload_is_stored_with_a_thumbnail(
    dermatologist_client, patient, lesion, private_media, image_format, name, content_type
):
    response = dermatologist_client.post(
        reverse("treatments:photo_upload", args=[patient.pk]),
        {
            "image": upload(image_bytes(image_format), name, content_type),
            "lesion": lesion.pk,
            "caption": "Before cryotherapy",
            "taken_on": "2026-02-03",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("treatments:patient_chart", args=[patient.pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The photo was added to the chart."
    ]
    photo = ClinicalPhoto.objects.get()
    assert (photo.patient, photo.lesion, photo.appointment) == (patient, lesion, None)
    assert (photo.content_type, photo.width, photo.height) == (content_type, 800, 600)
    assert (photo.caption, photo.taken_on) == ("Before cryotherapy", date(2026, 2, 3))
    assert photo.uploaded_by == dermatologist_client.staff_member.user
    assert opened(photo.image).format == image_format
    thumbnail = opened(photo.thumbnail)
    assert (thumbnail.format, thumbnail.size) == (image_format, (320, 240))
    assert len(stored_files(private_media)) == 2


def test_a_photo_of_a_visit_needs_no_lesion(patient):
    visit = AppointmentFactory(patient=patient)

    photo = add_photo(patient, lesion=None, appointment=visit)

    assert (photo.lesion, photo.appointment) == (None, visit)


def test_stored_files_have_random_names_under_the_patients_folder(patient):
    photo = add_photo(patient)

    folder, image_name = photo.image.name.rsplit("/", 1)
    assert folder == f"photos/{patient.pk}"
    assert len(image_name) == len("0123456789abcdef0123456789abcdef.jpg")
    assert photo.thumbnail.name != photo.image.name


def test_exif_with_gps_xmp_comments_and_colour_profile_are_stripped(patient):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = image_bytes(
        exif=camera_exif(),
        xmp=b"<x:xmpmeta>Taken at home</x:xmpmeta>",
        comment="Patient's own phone",
        icc_profile=srgb,
    )
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_INFO)[1] == "N"
        assert {"exif", "xmp", "comment", "icc_profile"} <= before.info.keys()

    photo = add_photo(patient, original)

    for stored in (opened(photo.image), opened(photo.thumbnail)):
        assert dict(stored.getexif()) == {}
        assert not {"exif", "xmp", "comment", "icc_profile"} & stored.info.keys()
    with photo.image.storage.open(photo.image.name, "rb") as handle:
        raw = handle.read()
    assert b"CameraMaker" not in raw
    assert b"Taken at home" not in raw
    assert b"own phone" not in raw


def test_png_text_chunks_and_exif_are_stripped(patient):
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Dr. Example, home address")
    original = image_bytes("PNG", pnginfo=text, exif=camera_exif())
    with Image.open(io.BytesIO(original)) as before:
        assert before.info["Author"] and before.getexif()[MAKE] == "CameraMaker"

    photo = add_photo(patient, original)

    stored = opened(photo.image)
    assert dict(stored.getexif()) == {}
    assert "Author" not in stored.info and "exif" not in stored.info


def test_the_exif_orientation_is_applied_before_it_is_dropped(patient):
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90° clockwise to display"
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 200, 200))  # left half blue
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)

    photo = add_photo(patient, buffer.getvalue())

    stored = opened(photo.image)
    assert (photo.width, photo.height) == stored.size == (200, 400)
    blue, red = stored.getpixel((100, 50)), stored.getpixel((100, 350))
    assert blue[2] > 200 and blue[0] < 60
    assert red[0] > 200 and red[2] < 60
    assert ORIENTATION not in stored.getexif()


# --- The service: what is refused, and that nothing is left behind ---------------------


def test_a_lesion_of_another_patient_is_refused(patient, private_media):
    someone_elses = LesionFactory(patient=PatientFactory())

    with pytest.raises(ValidationError) as refused:
        add_photo(patient, lesion=someone_elses)

    assert refused.value.message_dict == {"lesion": ["This lesion is charted for another patient."]}
    assert not ClinicalPhoto.objects.exists()
    assert stored_files(private_media) == []


def test_a_visit_of_another_patient_is_refused(patient):
    someone_elses = AppointmentFactory(patient=PatientFactory())

    with pytest.raises(ValidationError) as refused:
        add_photo(patient, lesion=None, appointment=someone_elses)

    assert refused.value.message_dict == {"appointment": ["This visit belongs to another patient."]}


def test_a_photo_of_neither_a_lesion_nor_a_visit_is_refused(patient):
    with pytest.raises(ValidationError) as refused:
        add_photo(patient, lesion=None)

    assert refused.value.message_dict == {
        "__all__": ["Choose the lesion or the visit this photo shows."]
    }


def test_a_photo_taken_in_the_future_is_refused(patient):
    with pytest.raises(ValidationError) as refused:
        add_photo(patient, taken_on=timezone.localdate() + timedelta(days=1))

    assert list(refused.value.message_dict) == ["taken_on"]


def test_an_oversized_file_is_refused_before_it_is_read(settings, patient, private_media):
    settings.CLINIC_PHOTO_MAX_BYTES = 1024

    class Unreadable(SimpleUploadedFile):
        def read(self, *args):
            raise AssertionError("the service read a file it should have refused by its size")

    with pytest.raises(ValidationError) as refused:
        photo_add(
            patient=patient,
            uploaded_file=Unreadable("big.jpg", b"x" * 2048, "image/jpeg"),
            uploaded_by=UserFactory(),
            lesion=LesionFactory(patient=patient),
        )

    assert refused.value.message_dict == {"image": ["The photo is larger than 1.0\xa0KB."]}
    assert stored_files(private_media) == []


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_an_image_with_more_pixels_than_pillow_allows_is_refused(monkeypatch, patient):
    # 400 pixels is between the limit and twice it, where Pillow on its own only warns.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)

    with pytest.raises(ValidationError) as refused:
        add_photo(patient, image_bytes(size=(20, 20)))

    assert list(refused.value.message_dict) == ["image"]


def test_files_are_deleted_when_the_row_cannot_be_saved(monkeypatch, patient, private_media):
    def refuse(*args, **kwargs):
        raise IntegrityError("the database said no")

    monkeypatch.setattr(ClinicalPhoto, "save", refuse)

    with pytest.raises(IntegrityError):
        add_photo(patient)

    assert stored_files(private_media) == []


def test_the_photo_history_names_who_uploaded_it(patient):
    photo = add_photo(patient)

    assert photo.history.get().history_user == photo.uploaded_by


# --- The upload page ---------------------------------------------------------------------


UPLOAD_LIMIT = 1024 * 1024


def truncated_jpeg() -> bytes:
    noise = Image.effect_noise((800, 600), 40).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG")
    return buffer.getvalue()[: buffer.tell() // 2]


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (50, 50)).save(buffer, "GIF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "name", "content_type", "error"),
    [
        (b"Dear colleague, see attached.", "letter.jpg", "image/jpeg", "not a JPEG or PNG"),
        (gif(), "lesion.jpg", "image/jpeg", "not a JPEG or PNG"),
        (gif(), "lesion.gif", "image/gif", "not a JPEG or PNG"),
        (truncated_jpeg(), "lesion.jpg", "image/jpeg", "damaged"),
        (
            image_bytes() + b"\0" * UPLOAD_LIMIT,
            "lesion.jpg",
            "image/jpeg",
            "larger than 1.0\xa0MB",
        ),
    ],
    ids=["text-renamed-jpg", "gif-renamed-jpg", "gif", "truncated-jpeg", "over-the-limit"],
)
def test_a_bad_file_is_a_form_error_and_nothing_is_written(
    settings,
    dermatologist_client,
    patient,
    lesion,
    private_media,
    content,
    name,
    content_type,
    error,
):
    settings.CLINIC_PHOTO_MAX_BYTES = UPLOAD_LIMIT

    response = dermatologist_client.post(
        reverse("treatments:photo_upload", args=[patient.pk]),
        {
            "image": upload(content, name, content_type),
            "lesion": lesion.pk,
            "taken_on": "2026-02-03",
        },
    )

    assert response.status_code == 400
    assert error in " ".join(response.context["form"].errors["image"])
    assert not ClinicalPhoto.objects.exists()
    assert stored_files(private_media) == []


def test_the_upload_form_offers_only_the_patients_own_lesions(
    dermatologist_client, patient, lesion
):
    someone_elses = LesionFactory(patient=PatientFactory())

    response = dermatologist_client.post(
        reverse("treatments:photo_upload", args=[patient.pk]),
        {"image": upload(image_bytes()), "lesion": someone_elses.pk, "taken_on": "2026-02-03"},
    )

    assert response.status_code == 400
    assert "lesion" in response.context["form"].errors
    assert not ClinicalPhoto.objects.exists()


def test_the_upload_form_asks_for_a_lesion_or_a_visit(dermatologist_client, patient):
    response = dermatologist_client.post(
        reverse("treatments:photo_upload", args=[patient.pk]),
        {"image": upload(image_bytes()), "taken_on": "2026-02-03"},
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Choose the lesion or the visit this photo shows."
    ]


def test_the_upload_page_preselects_the_lesion_and_the_visit_and_its_day(
    dermatologist_client, patient, lesion
):
    visit = AppointmentFactory(patient=patient)

    response = dermatologist_client.get(
        reverse("treatments:photo_upload", args=[patient.pk]),
        {"lesion": lesion.pk, "appointment": visit.pk},
    )

    form = response.context["form"]
    assert form["lesion"].value() == lesion.pk
    assert form["appointment"].value() == visit.pk
    assert form["taken_on"].value() == timezone.localdate(visit.starts_at)
    assert 'accept="image/jpeg,image/png"' in response.content.decode()
    assert 'enctype="multipart/form-data"' in response.content.decode()


def test_a_photo_for_a_visit_still_to_come_is_dated_today(dermatologist_client, patient):
    visit = AppointmentFactory(patient=patient, starts_at=timezone.now() + timedelta(days=3))

    response = dermatologist_client.get(
        reverse("treatments:photo_upload", args=[patient.pk]), {"appointment": visit.pk}
    )

    assert response.context["form"]["taken_on"].value() == timezone.localdate()


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("receptionist", 403), ("dermatologist", 200), ("manager", 403)],
)
def test_only_dermatologists_may_open_the_upload_page(as_role, patient, role, status):
    response = as_role(role).get(reverse("treatments:photo_upload", args=[patient.pk]))

    assert response.status_code == status
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))


def test_the_upload_page_of_an_unknown_patient_is_404(dermatologist_client):
    assert (
        dermatologist_client.get(reverse("treatments:photo_upload", args=[999_999])).status_code
        == 404
    )


def test_a_receptionist_cannot_upload(receptionist_client, patient, lesion, private_media):
    response = receptionist_client.post(
        reverse("treatments:photo_upload", args=[patient.pk]),
        {"image": upload(image_bytes()), "lesion": lesion.pk, "taken_on": "2026-02-03"},
    )

    assert response.status_code == 403
    assert stored_files(private_media) == []


def test_an_upload_without_the_csrf_token_is_refused(patient, lesion, private_media):
    client = Client(enforce_csrf_checks=True)
    client.force_login(StaffMemberFactory().user)

    response = client.post(
        reverse("treatments:photo_upload", args=[patient.pk]),
        {"image": upload(image_bytes()), "lesion": lesion.pk, "taken_on": "2026-02-03"},
    )

    assert response.status_code == 403
    assert not ClinicalPhoto.objects.exists()
    assert stored_files(private_media) == []


# --- Serving the files -------------------------------------------------------------------


@pytest.mark.parametrize("view", ["treatments:photo_image", "treatments:photo_thumbnail"])
@pytest.mark.parametrize("role", ["dermatologist", "manager"])
def test_clinicians_and_the_manager_get_the_file_with_private_headers(as_role, patient, view, role):
    photo = add_photo(patient)
    field_file = photo.image if view == "treatments:photo_image" else photo.thumbnail
    with field_file.storage.open(field_file.name, "rb") as handle:
        expected = handle.read()

    response = as_role(role).get(reverse(view, args=[photo.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == expected
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"


def test_a_png_is_served_as_png(dermatologist_client, patient):
    photo = add_photo(patient, image_bytes("PNG"))

    response = dermatologist_client.get(reverse("treatments:photo_image", args=[photo.pk]))

    assert response["Content-Type"] == "image/png"
    response.close()


@pytest.mark.parametrize("view", ["treatments:photo_image", "treatments:photo_thumbnail"])
@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("receptionist", 403)])
def test_receptionists_and_strangers_do_not_get_the_file(as_role, patient, view, role, status):
    photo = add_photo(patient)

    response = as_role(role).get(reverse(view, args=[photo.pk]))

    assert response.status_code == status
    assert not getattr(response, "streaming", False)


@pytest.mark.parametrize("view", ["treatments:photo_image", "treatments:photo_thumbnail"])
def test_an_unknown_photo_is_404(dermatologist_client, view):
    assert dermatologist_client.get(reverse(view, args=[999_999])).status_code == 404


def test_a_photo_whose_file_is_gone_is_404(dermatologist_client, patient):
    photo = add_photo(patient)
    photo.image.storage.delete(photo.image.name)

    assert (
        dermatologist_client.get(reverse("treatments:photo_image", args=[photo.pk])).status_code
        == 404
    )


def test_a_photo_cannot_be_posted_to(dermatologist_client, patient):
    photo = add_photo(patient)

    assert (
        dermatologist_client.post(reverse("treatments:photo_image", args=[photo.pk])).status_code
        == 405
    )


def test_photos_are_stored_outside_every_public_path():
    location = Path(private_photo_storage().location).resolve()
    public = [Path(django_settings.STATIC_ROOT), *map(Path, django_settings.STATICFILES_DIRS)]

    for folder in public:
        assert not location.is_relative_to(folder.resolve())
    assert django_settings.MEDIA_URL in ("", "/")


def test_a_stored_file_is_not_reachable_under_media_or_static(dermatologist_client, patient):
    photo = add_photo(patient)

    for prefix in ("/", "/media/", "/static/", "/private-media/"):
        response = dermatologist_client.get(f"{prefix}{photo.image.name}")
        assert response.status_code == 404, prefix


# --- Before and after ----------------------------------------------------------------------


def test_the_compare_page_shows_the_first_and_the_latest_photo(dermatologist_client, lesion):
    patient = lesion.patient
    latest = add_photo(patient, lesion=lesion, taken_on=date(2026, 3, 20), caption="Healed")
    first = add_photo(patient, lesion=lesion, taken_on=date(2026, 1, 5), caption="Before")
    middle = add_photo(patient, lesion=lesion, taken_on=date(2026, 2, 1))
    add_photo(patient)  # another lesion's photo

    response = dermatologist_client.get(reverse("treatments:lesion_compare", args=[lesion.pk]))

    assert response.status_code == 200
    assert response.context["comparison"] == [("First photo", first), ("Latest photo", latest)]
    assert response.context["photos"] == [first, middle, latest]
    page = response.content.decode()
    assert reverse("treatments:photo_image", args=[first.pk]) in page
    assert reverse("treatments:photo_image", args=[latest.pk]) in page
    assert "5 Jan 2026" in page and "20 Mar 2026" in page
    assert 'alt="First photo, 5 Jan 2026: Before"' in page


def test_the_compare_page_of_a_lesion_with_one_photo_says_so(manager_client, lesion):
    add_photo(lesion.patient, lesion=lesion)

    response = manager_client.get(reverse("treatments:lesion_compare", args=[lesion.pk]))

    assert response.status_code == 200
    assert "Only one photo so far" in response.content.decode()
    assert "Add a photo of this lesion" not in response.content.decode()


def test_the_compare_page_makes_the_same_queries_for_one_photo_and_for_many(
    dermatologist_client, lesion, django_assert_num_queries
):
    url = reverse("treatments:lesion_compare", args=[lesion.pk])
    add_photo(lesion.patient, lesion=lesion)
    # session, user, staff member (role check), lesion with its patient, the photos,
    # then the access log: the lesion's patient, the row written
    with django_assert_num_queries(7):
        dermatologist_client.get(url)
    for _ in range(5):
        add_photo(lesion.patient, lesion=lesion)
    with django_assert_num_queries(7):
        dermatologist_client.get(url)


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("receptionist", 403), ("dermatologist", 200), ("manager", 200)],
)
def test_the_compare_page_is_for_clinicians_and_the_manager(as_role, lesion, role, status):
    response = as_role(role).get(reverse("treatments:lesion_compare", args=[lesion.pk]))

    assert response.status_code == status


def test_the_compare_page_of_an_unknown_lesion_is_404(dermatologist_client):
    assert (
        dermatologist_client.get(reverse("treatments:lesion_compare", args=[999_999])).status_code
        == 404
    )


# --- The chart's photo strip -----------------------------------------------------------------


def test_the_photo_strip_links_thumbnails_to_images_and_lesions_with_two_photos_to_compare(
    patient, lesion
):
    before = add_photo(patient, lesion=lesion, taken_on=date(2026, 1, 5), caption="Before")
    after = add_photo(patient, lesion=lesion, taken_on=date(2026, 3, 20))
    single = add_photo(patient, taken_on=date(2026, 2, 1))
    visit_only = add_photo(patient, lesion=None, appointment=AppointmentFactory(patient=patient))
    photos = [before, single, visit_only, after]

    html = render_to_string(
        "treatments/_photo_strip.html",
        {"photos": photos, "patient": patient, "can_upload": False},
    )

    for photo in photos:
        assert f'src="{reverse("treatments:photo_thumbnail", args=[photo.pk])}"' in html
        assert f'href="{reverse("treatments:photo_image", args=[photo.pk])}"' in html
    assert 'alt="Photo of 5 Jan 2026: Before"' in html
    assert html.count(reverse("treatments:lesion_compare", args=[lesion.pk])) == 2
    assert reverse("treatments:lesion_compare", args=[single.lesion_id]) not in html
    assert "Add a photo" not in html


def test_the_photo_strip_offers_dermatologists_to_add_a_photo(patient):
    html = render_to_string(
        "treatments/_photo_strip.html", {"photos": [], "patient": patient, "can_upload": True}
    )

    assert reverse("treatments:photo_upload", args=[patient.pk]) in html
    assert "No photos yet." in html
