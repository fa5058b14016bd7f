"""Charting lesions on the body map."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from clinic.audit import audited, patient_of
from clinic.errors import form_add_error
from clinic.models import AccessLog
from clinic.permissions import CLINICIANS, role_required
from patients import services as patient_services
from patients.forms import LesionEditForm, LesionForm
from patients.models import Lesion, Patient


def _render_form(request, form, *, patient, lesion=None):
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "patient": patient, "lesion": lesion}
    return render(request, "treatments/lesion_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@role_required(*CLINICIANS)
def lesion_add(request, patient_id):
    """Chart a lesion; the body map links here with the site it was clicked on (?site=)."""
    patient = get_object_or_404(Patient, pk=patient_id)
    site = request.GET.get("site")
    # Neonatal milia are a newborn's; anyone older most likely has primary milia.
    likely_type = Lesion.MiliaType.NEONATAL if patient.age() < 1 else Lesion.MiliaType.PRIMARY
    initial = {"first_noted": timezone.localdate(), "milia_type": likely_type}
    if site in Lesion.Site.values:
        initial["site"] = site
    form = LesionForm(
        request.POST if request.method == "POST" else None, patient=patient, initial=initial
    )
    if form.is_valid():
        try:
            lesion = patient_services.lesion_add(
                patient=patient, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form_add_error(form, error)
        else:
            messages.success(request, _("Charted: %(lesion)s.") % {"lesion": lesion})
            return redirect("treatments:patient_chart", patient_id=patient.pk)
    return _render_form(request, form, patient=patient)


@audited(
    AccessLog.Action.RECORD_VIEW,
    patient=patient_of("patients.Lesion", "pk"),
    shown_with_errors=True,
)
@require_http_methods(["GET", "POST"])
@role_required(*CLINICIANS)
def lesion_edit(request, pk):
    """Change a charted lesion, or resolve it; it stays with its own patient."""
    lesion = get_object_or_404(Lesion.objects.select_related("patient"), pk=pk)
    patient = lesion.patient
    form = LesionEditForm(
        request.POST if request.method == "POST" else None,
        patient=patient,
        initial={name: getattr(lesion, name) for name in LesionEditForm.base_fields},
    )
    if form.is_valid():
        try:
            patient_services.lesion_update(lesion=lesion, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            lesion.refresh_from_db()  # the page shows the lesion as saved, not as refused
            form_add_error(form, error)
        else:
            messages.success(request, _("Updated: %(lesion)s.") % {"lesion": lesion})
            return redirect("treatments:patient_chart", patient_id=patient.pk)
    return _render_form(request, form, patient=patient, lesion=lesion)
