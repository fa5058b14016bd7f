"""The dermatologist's records: the chart, recording and signing procedures, follow-ups."""

from django.http import Http404

from clinic.permissions import CLINICIANS, EVERY_ROLE, role_required

CLINICAL_READERS = (*CLINICIANS, "manager")


@role_required(*CLINICAL_READERS)
def patient_chart(request, patient_id):
    raise Http404("Not built yet")


@role_required(*CLINICIANS)
def procedure_record(request, pk):
    raise Http404("Not built yet")


@role_required(*CLINICAL_READERS)
def procedure_detail(request, pk):
    raise Http404("Not built yet")


@role_required(*CLINICIANS)
def procedure_sign(request, pk):
    raise Http404("Not built yet")


@role_required(*CLINICIANS)
def procedure_amend(request, pk):
    raise Http404("Not built yet")


@role_required(*CLINICAL_READERS)
def procedure_handout(request, pk):
    raise Http404("Not built yet")


@role_required(*EVERY_ROLE)
def follow_up_list(request):
    raise Http404("Not built yet")


@role_required(*CLINICIANS)
def follow_up_outcome(request, pk):
    raise Http404("Not built yet")


@role_required(*CLINICIANS)
def alert_add(request, patient_id):
    raise Http404("Not built yet")


@role_required(*CLINICIANS)
def my_day(request):
    raise Http404("Not built yet")
