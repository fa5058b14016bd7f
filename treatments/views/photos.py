"""Clinical photos: upload, the checked view that serves them, before and after."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from clinic.audit import audited, patient_from
from clinic.errors import form_add_error
from clinic.models import AccessLog
from clinic.params import id_param
from clinic.permissions import CLINICAL_READERS, CLINICIANS, has_role, role_required
from patients.models import Lesion, Patient

from ..forms.photos import PhotoUploadForm
from ..models import ClinicalPhoto
from ..services.photos import photo_add


@audited(
    AccessLog.Action.RECORD_VIEW,
    patient=patient_from("patient_id"),  # the form lists the patient's lesions and visits
    shown_with_errors=True,
)
@role_required(*CLINICIANS)
def photo_upload(request, patient_id):
    """Add a photo of a lesion or of a visit; a refused file is a form error, nothing stored."""
    patient = get_object_or_404(Patient, pk=patient_id)
    if request.method != "POST":
        form = PhotoUploadForm(patient=patient, initial=_initial_from_query(request, patient))
        return _upload_page(request, form, patient)
    form = PhotoUploadForm(request.POST, request.FILES, patient=patient)
    if form.is_valid():
        data = form.cleaned_data
        try:
            photo_add(
                patient=patient,
                uploaded_file=data["image"],
                uploaded_by=request.user,
                lesion=data["lesion"],
                appointment=data["appointment"],
                caption=data["caption"],
                taken_on=data["taken_on"],
            )
        except ValidationError as error:
            form_add_error(form, error)
        else:
            messages.success(request, _("The photo was added to the chart."))
            return redirect("treatments:patient_chart", patient_id=patient.pk)
    return _upload_page(request, form, patient, status=400)


def _upload_page(request, form, patient, status=200):
    context = {"form": form, "patient": patient}
    return render(request, "treatments/photo_upload.html", context, status=status)


def _initial_from_query(request, patient) -> dict:
    """?lesion= and ?appointment= preselect; a visit's photo is taken on the visit's day.

    A photo for a visit still to come (taken at check-in, say) is dated today.
    """
    initial: dict[str, Any] = {"taken_on": timezone.localdate()}
    lesion_id, appointment_id = (
        id_param(request.GET.get("lesion")),
        id_param(request.GET.get("appointment")),
    )
    if lesion_id is not None:
        initial["lesion"] = lesion_id
    if appointment_id is not None:
        appointment = patient.appointments.filter(pk=appointment_id).first()
        if appointment is not None:
            initial["appointment"] = appointment.pk
            initial["taken_on"] = min(
                timezone.localdate(appointment.starts_at), initial["taken_on"]
            )
    return initial


@require_safe
@role_required(*CLINICAL_READERS)
def photo_image(request, pk):
    """The photo itself, for an authorised reader only: never cached, never sniffed."""
    photo = get_object_or_404(ClinicalPhoto, pk=pk)
    return serve_photo_file(photo.image, photo.content_type)


@require_safe
@role_required(*CLINICAL_READERS)
def photo_thumbnail(request, pk):
    photo = get_object_or_404(ClinicalPhoto, pk=pk)
    return serve_photo_file(photo.thumbnail, photo.content_type)


def serve_photo_file(field_file, content_type: str) -> FileResponse:
    try:
        handle = field_file.storage.open(field_file.name, "rb")
    except FileNotFoundError:
        raise Http404(_("The photo's file is missing.")) from None
    response = FileResponse(handle, content_type=content_type)
    # Shown in the page, under no file name (the stored one is a random id anyway).
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
@role_required(*CLINICAL_READERS)
def lesion_compare(request, lesion_id):
    """Before and after: the lesion's first photo beside its latest, then all of them."""
    lesion = get_object_or_404(Lesion.objects.select_related("patient"), pk=lesion_id)
    photos = list(lesion.photos.order_by("taken_on", "uploaded_at", "pk"))
    if len(photos) > 1:
        comparison = [(_("First photo"), photos[0]), (_("Latest photo"), photos[-1])]
    else:
        comparison = [(_("The only photo"), photo) for photo in photos]
    context = {
        "lesion": lesion,
        "patient": lesion.patient,
        "photos": photos,
        "comparison": comparison,
        "can_upload": has_role(request.user, CLINICIANS),
    }
    return render(request, "treatments/lesion_compare.html", context)
