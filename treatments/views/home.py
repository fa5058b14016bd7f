"""The home page after login: who you are, where to go, today at a glance."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from ..selectors.appointments import appointments_of_day


@login_required
def home(request):
    """Who you are, where to go, and the day's schedule at a glance."""
    staff_member = getattr(request.user, "staff_member", None)
    return render(
        request,
        "clinic/home.html",
        {"staff_member": staff_member, "appointments": appointments_of_day()},
    )
