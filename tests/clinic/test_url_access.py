"""Every page names who may see it: a new view without an access rule fails here."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

# Pages for everyone, by design.
PUBLIC = {"healthz", "login", "logout", "patient_link"}  # a patient link: the token is the key
# Any logged-in user, role or not: the home page tells a user without a role what to do.
# The two-factor pages: the second step of logging in, for whoever passed the first.
LOGIN_ONLY = {"home", "two_factor_verify", "two_factor_enrol"}


def app_patterns(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if getattr(pattern, "app_name", None) == "admin":
                continue  # the admin checks staff status and model permissions itself
            yield from app_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


PATTERNS = list(app_patterns(get_resolver().url_patterns))


def test_the_app_has_pages_to_check():
    assert len(PATTERNS) > 10


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "pattern"), PATTERNS, ids=[route for route, _ in PATTERNS])
def test_every_page_declares_its_roles_or_is_public(route, pattern):
    if pattern.name in PUBLIC:
        return
    if pattern.name in LOGIN_ONLY:
        assert Client().get("/" + route)["Location"].startswith("/login/")
        return
    assert getattr(pattern.callback, "allowed_roles", None), f"{route} has no role rule"
