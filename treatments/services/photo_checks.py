"""Recurrence checks by photo: the patient sends up to three photos of the treated area and
answers two questions through the check's link; a dermatologist reviews them.

The photos are cleaned exactly as staff photos are (photos.photo_clean: format by content,
size and pixel limits, every piece of metadata dropped) and stored in the same private
storage. One submission per follow-up: the link is used when the submission is stored,
and a unique follow-up on PhotoCheck settles two links sent at once.

The review records an outcome per lesion: resolved or recurred go through the follow-up's
own outcome service (resolved lesions close, a recurrence earns a recheck, the follow-up
is done); "needs a visit" leaves the follow-up open for a visit. When the patient should
come in, an invitation to book goes out through the outbox, with no finding in its words.
"""

import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, models, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic.errors import StateConflict
from clinic.links import PatientLink, link_use
from patients.models import Lesion

from ..models import FollowUp, PhotoCheck, PhotoCheckImage
from ..selectors.photo_checks import follow_up_lesions
from .photos import CleanImage, TooManyPixels, photo_clean
from .records import RecordConflict, RecordError, follow_up_record_outcomes
from .reminders import reminders_for_photo_check_invitation

MAX_PHOTOS = 3
ALREADY_SENT = gettext_lazy(
    "You have already sent photos for this check-up. Your dermatologist will look at them."
)
REVIEWED_BY_PHOTO = "Reviewed from the patient's photos"


class PhotoCheckClosed(StateConflict):
    """The check cannot take photos any more; the message is for the patient."""


class Decision(models.TextChoices):
    """What the dermatologist makes of one lesion from the patient's photos."""

    RESOLVED = "resolved", gettext_lazy("Resolved")
    RECURRED = "recurred", gettext_lazy("Recurred")
    NEEDS_VISIT = "needs_visit", gettext_lazy("Needs a visit")


def photo_check_refusal(*, follow_up: FollowUp) -> str | None:
    """Why photos cannot be sent for this check now, in the patient's words; None if they can."""
    if PhotoCheck.objects.filter(follow_up=follow_up).exists():
        return str(ALREADY_SENT)
    if follow_up.status == FollowUp.Status.BOOKED:
        return _("This check-up is already booked.")
    if follow_up.status == FollowUp.Status.DONE:
        return _("This check-up has already taken place.")
    if follow_up.status == FollowUp.Status.CANCELLED:
        return _("This check-up has been called off by the clinic.")
    return None


def _cleaned(photos: list["File[bytes]"]) -> list[CleanImage]:
    """Each upload cleaned; a refusal names the form field (photo_1..photo_3) it concerns."""
    if not photos:
        raise ValidationError({"photo_1": _("Add at least one photo.")})
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photo_1": _("Send at most three photos.")})
    cleaned = []
    for number, upload in enumerate(photos, start=1):
        try:
            cleaned.append(photo_clean(upload))
        except ValidationError as error:
            raise ValidationError({f"photo_{number}": _in_patient_words(error)}) from error
    return cleaned


def _in_patient_words(error: ValidationError) -> str:
    """photo_clean's refusal, translated for the patient: its cause tells which it is."""
    if isinstance(error.__cause__, TooManyPixels):
        return _(
            "This photo has more than %(megapixels)s megapixels. Send a smaller copy of it."
        ) % {"megapixels": f"{settings.CLINIC_PHOTO_MAX_PIXELS / 1_000_000:g}"}
    if error.__cause__ is None:  # refused by its size, before a byte was read
        return _("This photo is larger than %(size)s. Send a smaller copy of it.") % {
            "size": filesizeformat(settings.CLINIC_PHOTO_MAX_BYTES)
        }
    return _("This file is not a JPEG or PNG photo, or it is damaged.")


def photo_check_submit(
    *,
    link: PatientLink,
    follow_up: FollowUp,
    photos: list["File[bytes]"],
    new_bumps: str,
    where: str = "",
) -> PhotoCheck:
    """Store the patient's photos and answers for the check, and use up the link: all of
    it, or nothing (files included).

    Raises ValidationError keyed by the form's fields for a photo that is refused (too
    large, too many pixels, not a photo), PhotoCheckClosed (409) when the check already
    has photos or is closed, LinkUsed when the link was used meanwhile.
    """
    images = _cleaned(photos)  # the slow part, before any lock is taken
    stored: list[PhotoCheckImage] = []
    try:
        with transaction.atomic():
            link_use(link)
            current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
            refusal = photo_check_refusal(follow_up=current)
            if refusal:
                raise PhotoCheckClosed(refusal)
            photo_check = PhotoCheck(
                follow_up=current,
                patient_id=current.patient_id,
                submitted_at=timezone.now(),
                new_bumps=new_bumps,
                where=where.strip(),
            )
            photo_check.full_clean(exclude=["follow_up", "patient"], validate_unique=False)
            photo_check.save()
            for image in images:
                stored.append(_store(photo_check, image))
    except IntegrityError:
        _delete_files(stored)
        raise PhotoCheckClosed(str(ALREADY_SENT)) from None
    except BaseException:
        _delete_files(stored)
        raise
    return photo_check


def _store(photo_check: PhotoCheck, image: CleanImage) -> PhotoCheckImage:
    row = PhotoCheckImage(
        photo_check=photo_check,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
    )
    name = uuid.uuid4().hex
    row.image.save(f"{name}.{image.extension}", ContentFile(image.content), save=False)
    row.thumbnail.save(
        f"{name}-thumbnail.{image.extension}", ContentFile(image.thumbnail), save=False
    )
    row.save()
    return row


def _delete_files(rows: list[PhotoCheckImage]) -> None:
    for row in rows:
        for field_file in (row.image, row.thumbnail):
            if field_file.name:
                field_file.storage.delete(field_file.name)


def photo_check_review(
    *, photo_check: PhotoCheck, decisions: list[tuple[Lesion, str]], by: User
) -> PhotoCheck:
    """Record the dermatologist's decision per lesion and close the review.

    Every lesion the follow-up checks needs a decision. Any "needs a visit": the
    follow-up stays open and the patient is invited to book it. Otherwise the outcomes
    are the follow-up's (follow_up_record_outcomes: it is done); a recurrence also
    invites the patient to book the recheck that service adds. Raises RecordConflict
    (409) for a check reviewed already, RecordError for a missing or foreign lesion.
    """
    with transaction.atomic():
        current = (
            PhotoCheck.objects.select_for_update(of=("self",))
            .select_related("follow_up")
            .get(pk=photo_check.pk)
        )
        if current.status != PhotoCheck.Status.SUBMITTED:
            raise RecordConflict(_("This photo check has already been reviewed."))
        follow_up = current.follow_up
        expected = {lesion.pk for lesion in follow_up_lesions(follow_up)}
        if not decisions or {lesion.pk for lesion, _decision in decisions} != expected:
            raise RecordError(_("Record a decision for every lesion."))
        chosen = {decision for _lesion, decision in decisions}
        invite: FollowUp | None = None
        if Decision.NEEDS_VISIT in chosen:
            current.result = PhotoCheck.Result.NEEDS_VISIT
            if follow_up.status == FollowUp.Status.OPEN:
                invite = follow_up
        else:
            follow_up_record_outcomes(
                follow_up=follow_up,
                outcomes=[
                    {"lesion": lesion, "outcome": decision, "note": REVIEWED_BY_PHOTO}
                    for lesion, decision in decisions
                ],
                by=by,
            )
            if Decision.RECURRED in chosen:
                current.result = PhotoCheck.Result.RECURRED
                invite = _recheck_after(follow_up)
            else:
                current.result = PhotoCheck.Result.RESOLVED
        current.status = PhotoCheck.Status.REVIEWED
        current.reviewed_by, current.reviewed_at = by, timezone.now()
        current.full_clean(exclude=["follow_up", "patient", "reviewed_by"], validate_unique=False)
        current.save(update_fields=["status", "result", "reviewed_by", "reviewed_at"])
        if invite is not None:
            reminders_for_photo_check_invitation(follow_up=invite)
    return current


def _recheck_after(follow_up: FollowUp) -> FollowUp | None:
    """The recheck that follow_up_record_outcomes just added for a recurrence."""
    rechecks = FollowUp.objects.filter(
        patient_id=follow_up.patient_id,
        procedure=follow_up.procedure,
        kind=FollowUp.Kind.RECHECK,
        status=FollowUp.Status.OPEN,
    )
    return rechecks.order_by("-pk").first()
