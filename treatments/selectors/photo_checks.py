"""Reads of recurrence checks by photo: the dermatologists' queue and one check beside the
earlier photos of the lesions it is about."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet

from patients.models import Lesion

from ..models import ClinicalPhoto, FollowUp, PhotoCheck, PhotoCheckImage


def photo_checks_waiting() -> QuerySet[PhotoCheck]:
    """Photo checks not reviewed yet, oldest first, with what the queue shows."""
    return (
        PhotoCheck.objects.filter(status=PhotoCheck.Status.SUBMITTED)
        .select_related("patient", "follow_up__procedure__procedure_type")
        .order_by("submitted_at", "pk")
    )


def photo_checks_waiting_count() -> int:
    return PhotoCheck.objects.filter(status=PhotoCheck.Status.SUBMITTED).count()


def follow_up_lesions(follow_up: FollowUp) -> list[Lesion]:
    """The lesions a follow-up checks: those its procedure treated, else the patient's
    current ones (as the follow-up's outcome page lists them)."""
    if follow_up.procedure_id is not None:
        return list(Lesion.objects.filter(procedures=follow_up.procedure_id).order_by("pk"))
    return list(
        Lesion.objects.filter(patient=follow_up.patient_id, status__in=Lesion.CURRENT).order_by(
            "pk"
        )
    )


@dataclass(frozen=True)
class PhotoCheckReview:
    """One photo check as its review page shows it."""

    photo_check: PhotoCheck
    images: list[PhotoCheckImage]
    # Each lesion the follow-up checks, with its earlier photos (oldest first).
    lesions: list[tuple[Lesion, list[ClinicalPhoto]]]


def photo_check_for_review(pk: int) -> PhotoCheckReview:
    """The check, its images, and the follow-up's lesions with their earlier photos, in
    four queries however many lesions and photos: the check with its follow-up, patient
    and procedure; its images; the lesions; their photos. Raises PhotoCheck.DoesNotExist."""
    photo_check = PhotoCheck.objects.select_related(
        "patient", "follow_up__procedure__procedure_type", "reviewed_by"
    ).get(pk=pk)
    images = list(photo_check.images.all())
    lesions = follow_up_lesions(photo_check.follow_up)
    photos: defaultdict[int, list[ClinicalPhoto]] = defaultdict(list)
    for photo in ClinicalPhoto.objects.filter(lesion__in=lesions).order_by(
        "taken_on", "uploaded_at", "pk"
    ):
        assert photo.lesion_id is not None  # filtered on it
        photos[photo.lesion_id].append(photo)
    return PhotoCheckReview(
        photo_check=photo_check,
        images=images,
        lesions=[(lesion, photos[lesion.pk]) for lesion in lesions],
    )
