"""The clinic manager's dashboard."""

from django.http import Http404

from clinic.permissions import Role, role_required


@role_required(Role.MANAGER)
def manager_dashboard(request):
    raise Http404("Not built yet")
