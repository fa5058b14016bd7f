"""Charting lesions on the body map."""

from django.http import Http404

from clinic.permissions import CLINICIANS, role_required


@role_required(*CLINICIANS)
def lesion_add(request, patient_id):
    raise Http404("Not built yet")


@role_required(*CLINICIANS)
def lesion_edit(request, pk):
    raise Http404("Not built yet")
