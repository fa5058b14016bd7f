"""Booking, the appointment page and its life-cycle actions, today's arrivals."""

from django.http import HttpResponse

from clinic.permissions import EVERY_ROLE, FRONT_DESK, role_required


@role_required(*FRONT_DESK)
def appointment_book(request):
    return HttpResponse("booking: to be built")


@role_required(*EVERY_ROLE)
def appointment_detail(request, pk):
    return HttpResponse("appointment: to be built")


@role_required(*EVERY_ROLE)
def arrivals(request):
    return HttpResponse("arrivals: to be built")
