"""The front desk's patient pages: search, register, and a patient's page."""

from django.http import HttpResponse

from clinic.permissions import EVERY_ROLE, FRONT_DESK, role_required


@role_required(*EVERY_ROLE)
def patient_search(request):
    return HttpResponse("search: to be built")


@role_required(*FRONT_DESK)
def patient_register(request):
    return HttpResponse("register: to be built")


@role_required(*EVERY_ROLE)
def patient_detail(request, pk):
    return HttpResponse("patient: to be built")
