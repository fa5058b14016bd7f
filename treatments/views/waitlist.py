"""The waitlist: patients who want an earlier slot."""

from django.http import HttpResponse

from clinic.permissions import EVERY_ROLE, role_required


@role_required(*EVERY_ROLE)
def waitlist(request):
    return HttpResponse("waitlist: to be built")
