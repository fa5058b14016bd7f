"""The home page after login: who you are, where to go, today at a glance."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from clinic.permissions import FRONT_DESK, has_role
from patients.selectors import patients_registered_online

from ..selectors.appointments import appointments_of_day


@login_required
def home(request):
    """Who you are, where to go, and the day's schedule at a glance."""
    staff_member = getattr(request.user, "staff_member", None)
    # The front desk checks the records that patients registered online.
    to_verify = patients_registered_online() if has_role(request.user, FRONT_DESK) else []
    return render(
        request,
        "clinic/home.html",
        {
            "staff_member": staff_member,
            "appointments": appointments_of_day(),
            "registered_online": to_verify,
        },
    )
