"""The reference the benchmark divides by: what every page pays before its own work."""

from django.http import HttpResponse
from django.template import engines
from django.views.decorators.http import require_http_methods

from clinic.permissions import EVERY_ROLE, role_required

PAGE = '{% extends "base.html" %}{% block content %}<p>Nothing to see here.</p>{% endblock %}'


@require_http_methods(["GET", "POST"])
@role_required(*EVERY_ROLE)
def trivial(request):
    """The same middleware, session, login, role check and base template; no queries of
    its own."""
    return HttpResponse(engines["django"].from_string(PAGE).render({}, request))
