"""The dermatologists' queue of recurrence checks by photo, one check beside the earlier
photos of its lesions, and the review. Dermatologists review; managers read; the desk
gets 403. Every page that shows a check writes the access log."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from clinic.audit import access_log_record_patients
from clinic.models import AccessLog
from clinic.permissions import CLINICAL_READERS, CLINICIANS, has_role, role_required

from ..forms.self_service import DecisionForm
from ..models import PhotoCheck, PhotoCheckImage
from ..selectors.photo_checks import photo_check_for_review, photo_checks_waiting
from ..services.photo_checks import photo_check_review
from .photos import serve_photo_file


@require_safe
@role_required(*CLINICAL_READERS)
def photo_check_list(request):
    """The photo checks waiting for review, oldest first; one access-log row per patient
    listed (the list names who sent photos and what they answered)."""
    waiting = list(photo_checks_waiting())
    access_log_record_patients(
        request=request,
        action=AccessLog.Action.RECORD_VIEW,
        patient_ids=[check.patient_id for check in waiting],
        detail="photo checks waiting",
    )
    context = {"photo_checks": waiting, "can_review": has_role(request.user, CLINICIANS)}
    return render(request, "treatments/photo_checks.html", context)


@role_required(*CLINICAL_READERS)
def photo_check_detail(request, pk):
    """The patient's photos and answers beside the earlier photos of each lesion the
    follow-up checks; a dermatologist records a decision per lesion (POST)."""
    try:
        review = photo_check_for_review(pk)
    except PhotoCheck.DoesNotExist:
        raise Http404(_("No such photo check.")) from None
    lesions = [lesion for lesion, _photos in review.lesions]
    data = request.POST if request.method == "POST" else None
    forms = [DecisionForm(data, prefix=f"lesion-{lesion.pk}") for lesion in lesions]
    status = 200
    if request.method == "POST":
        if not has_role(request.user, CLINICIANS):
            raise PermissionDenied
        status = _review(request, review.photo_check, lesions, forms)
        if status == 302:
            return redirect("treatments:photo_check_list")
    context = {
        "review": review,
        "photo_check": review.photo_check,
        "rows": [
            (lesion, photos, form)
            for (lesion, photos), form in zip(review.lesions, forms, strict=True)
        ],
        "can_review": has_role(request.user, CLINICIANS)
        and review.photo_check.status == PhotoCheck.Status.SUBMITTED,
    }
    return render(request, "treatments/photo_check_detail.html", context, status=status)


def _review(request, photo_check, lesions, forms) -> int:
    """Record the decisions; the status to answer with (302 when recorded)."""
    if not all(form.is_valid() for form in forms):
        return 400
    decisions = [
        (lesion, form.cleaned_data["decision"]) for lesion, form in zip(lesions, forms, strict=True)
    ]
    try:
        reviewed = photo_check_review(photo_check=photo_check, decisions=decisions, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return int(getattr(error, "status", 400))
    messages.success(
        request, _("The photo check is reviewed: %(result)s.") % {"result": reviewed.result}
    )
    return 302


@require_safe
@role_required(*CLINICAL_READERS)
def photo_check_image(request, pk):
    """A photo a patient sent, for an authorised reader only: never cached, never sniffed."""
    image = get_object_or_404(PhotoCheckImage, pk=pk)
    return serve_photo_file(image.image, image.content_type)


@require_safe
@role_required(*CLINICAL_READERS)
def photo_check_thumbnail(request, pk):
    image = get_object_or_404(PhotoCheckImage, pk=pk)
    return serve_photo_file(image.thumbnail, image.content_type)
