"""The day view (dermatologists side by side) and the week view of one dermatologist."""

from django.http import HttpResponse

from clinic.permissions import EVERY_ROLE, role_required


@role_required(*EVERY_ROLE)
def schedule_day(request):
    return HttpResponse("day view: to be built")


@role_required(*EVERY_ROLE)
def schedule_week(request, dermatologist_id):
    return HttpResponse("week view: to be built")
