"""Patients' signed links from reminders: confirm or cancel a visit, read aftercare, stop."""

from django.http import Http404


def patient_link(request, token):
    raise Http404("Not built yet")
