"""Clinical photos: checked, cleaned of every piece of metadata, stored where only a view reads.

A phone photo carries the place it was taken (GPS), the device and often the time; none of
it belongs in a chart. So an upload is decoded, turned upright and re-encoded from its pixels
alone, and its thumbnail made the same way. Pillow's detected format decides what a file is,
never its name or the browser's word.
"""

import io
import uuid
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from patients.models import Lesion, Patient

from ..models import Appointment, ClinicalPhoto

# Pillow's format: (content type, file extension)
ACCEPTED_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
THUMBNAIL_SIZE = (320, 320)
JPEG_QUALITY = 90
# What Pillow raises for a file that is not an image, is damaged, or decodes to too much.
UNREADABLE = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)
NOT_AN_IMAGE = "This file is not a JPEG or PNG photo, or it is damaged."
# Pillow's own decompression-bomb check, for every image this process opens (the admin's
# too): the same limit, so that nothing larger is ever decoded here.
Image.MAX_IMAGE_PIXELS = settings.CLINIC_PHOTO_MAX_PIXELS


class TooManyPixels(Exception):
    """The header announces more pixels than CLINIC_PHOTO_MAX_PIXELS; nothing was decoded."""


@dataclass(frozen=True)
class CleanImage:
    """A photo re-encoded from its pixels, ready to store."""

    content: bytes
    thumbnail: bytes
    content_type: str
    extension: str
    width: int
    height: int


def photo_add(
    *,
    patient: Patient,
    uploaded_file: "File[bytes]",
    uploaded_by: User,
    lesion: Lesion | None = None,
    appointment: Appointment | None = None,
    caption: str = "",
    taken_on: date | None = None,
) -> ClinicalPhoto:
    """Store a photo of one of the patient's lesions and/or visits, without its metadata.

    Raises ValidationError, keyed by the upload form's field names, for a file that is not
    a JPEG or PNG, is too large, damaged or a decompression bomb, and for a lesion or visit
    of someone else. Nothing is written unless the photo is stored whole: files and row.
    """
    taken_on = taken_on or timezone.localdate()
    _check_subject(patient=patient, lesion=lesion, appointment=appointment, taken_on=taken_on)
    image = photo_clean(uploaded_file)
    photo = ClinicalPhoto(
        patient=patient,
        lesion=lesion,
        appointment=appointment,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        caption=caption,
        taken_on=taken_on,
        uploaded_by=uploaded_by,
    )
    # Who added it, in the photo's history, also when no request is around (a shell, a task).
    photo._history_user = uploaded_by
    name = uuid.uuid4().hex
    try:
        photo.image.save(f"{name}.{image.extension}", ContentFile(image.content), save=False)
        photo.thumbnail.save(
            f"{name}-thumbnail.{image.extension}", ContentFile(image.thumbnail), save=False
        )
        photo.full_clean()
        # The row and its first history row, together or not at all.
        with transaction.atomic():
            photo.save()
    except BaseException:
        _delete_files(photo)
        raise
    return photo


def _check_subject(
    *, patient: Patient, lesion: Lesion | None, appointment: Appointment | None, taken_on: date
) -> None:
    errors: dict[str, str] = {}
    if lesion is None and appointment is None:
        errors["__all__"] = "Choose the lesion or the visit this photo shows."
    if lesion is not None and lesion.patient_id != patient.pk:
        errors["lesion"] = "This lesion is charted for another patient."
    if appointment is not None and appointment.patient_id != patient.pk:
        errors["appointment"] = "This visit belongs to another patient."
    if taken_on > timezone.localdate():
        errors["taken_on"] = "The day the photo was taken cannot be in the future."
    if errors:
        raise ValidationError(errors)


def photo_clean(uploaded_file: "File[bytes]") -> CleanImage:
    """Decode an upload and re-encode it, and a thumbnail, from the pixels only.

    The size is checked before a byte is read. The pixel count is checked from the header
    before decoding, so a small file that would expand to gigabytes is refused early.
    """
    limit = settings.CLINIC_PHOTO_MAX_BYTES
    if uploaded_file.size is None or uploaded_file.size > limit:
        raise ValidationError(
            {"image": f"The photo is larger than {filesizeformat(limit)}."}, code="too_large"
        )
    try:
        picture = _decode(uploaded_file)
        image_format = picture.format or ""  # one of ACCEPTED_FORMATS: _decode checked it
        # Each step's input is let go as soon as the next exists, so that at most two
        # full-size copies are alive at once.
        picture = _upright_srgb(picture)
        pixels = _fresh_copy(picture, image_format)
        del picture
    except TooManyPixels as error:
        raise ValidationError({"image": str(error)}, code="too_many_pixels") from error
    except UNREADABLE as error:
        raise ValidationError({"image": NOT_AN_IMAGE}, code="invalid_image") from error
    content_type, extension = ACCEPTED_FORMATS[image_format]
    # Resized straight from the pixels, without a full-size copy first.
    thumbnail = pixels.resize(
        _fitting(pixels.size, THUMBNAIL_SIZE), Image.Resampling.BICUBIC, reducing_gap=2.0
    )
    return CleanImage(
        content=_encode(pixels, image_format),
        thumbnail=_encode(thumbnail, image_format),
        content_type=content_type,
        extension=extension,
        width=pixels.width,
        height=pixels.height,
    )


def _decode(uploaded_file: "File[bytes]") -> Image.Image:
    """The upload's image, fully loaded; raises one of UNREADABLE for anything else."""
    uploaded_file.seek(0)
    try:
        probe = Image.open(uploaded_file)
    except Image.DecompressionBombError as error:  # Pillow's own check, past twice its limit
        raise TooManyPixels(_too_many_pixels(settings.CLINIC_PHOTO_MAX_PIXELS)) from error
    with probe:
        if probe.format not in ACCEPTED_FORMATS:
            raise UnidentifiedImageError(f"{probe.format} is not accepted")
        # From the header alone: Image.open has decoded nothing yet. Pillow itself only
        # warns between MAX_IMAGE_PIXELS and twice that, so the limit is checked here
        # rather than by turning warnings into errors, whose filters threads share.
        limit = min(settings.CLINIC_PHOTO_MAX_PIXELS, Image.MAX_IMAGE_PIXELS or 10**18)
        if probe.width * probe.height > limit:
            raise TooManyPixels(_too_many_pixels(limit))
        probe.verify()
    # verify() leaves the image unusable: open it again and decode every pixel, which is
    # where a truncated file fails.
    uploaded_file.seek(0)
    picture = Image.open(uploaded_file)
    picture.load()
    return picture


def _too_many_pixels(limit: int) -> str:
    return (
        f"This photo has more than {limit / 1_000_000:g} megapixels, the most accepted. "
        "Export it smaller and upload it again."
    )


def _upright_srgb(picture: Image.Image) -> Image.Image:
    """Turned as the camera meant (EXIF orientation), colours converted to sRGB.

    The colour profile is dropped with the rest of the metadata, so its effect is applied
    first: a wide-gamut phone photo keeps the skin tones the dermatologist saw.
    """
    upright = ImageOps.exif_transpose(picture)
    icc_profile = picture.info.get("icc_profile")
    if icc_profile and upright.mode in ("RGB", "RGBA", "CMYK"):
        try:
            converted = ImageCms.profileToProfile(
                upright,
                ImageCms.ImageCmsProfile(io.BytesIO(icc_profile)),
                ImageCms.createProfile("sRGB"),
                outputMode="RGBA" if upright.mode == "RGBA" else "RGB",
            )
            assert converted is not None  # None only for inPlace=True
            return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # A broken profile: keep the pixels as they are.
    return upright


def _fresh_copy(picture: Image.Image, image_format: str) -> Image.Image:
    """A new image built from the pixel data alone: no EXIF, GPS, XMP, profile or comments."""
    has_alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
    if image_format == "PNG" and has_alpha:
        mode = "RGBA"
    elif picture.mode == "L":
        mode = "L"
    else:
        mode = "RGB"
    pixels = picture if picture.mode == mode else picture.convert(mode)
    # A new image given the pixels alone (paste copies no info, EXIF or profile); one
    # full-size copy, where tobytes() and frombytes() would make two.
    fresh = Image.new(mode, pixels.size)
    fresh.paste(pixels)
    return fresh


def _fitting(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size that fits in box keeping the proportions, never larger than size."""
    scale = min(1.0, box[0] / size[0], box[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _encode(picture: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        picture.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        picture.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _delete_files(photo: ClinicalPhoto) -> None:
    for field_file in (photo.image, photo.thumbnail):
        if field_file.name:
            field_file.storage.delete(field_file.name)
