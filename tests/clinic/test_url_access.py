"""Every page names who may see it: a new view without an access rule fails here."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

# Pages for everyone, by design.
PUBLIC = {
    "healthz",
    "login",
    "logout",
    "treatments:patient_link",
    "treatments:patient_link_unsubscribe",  # one-click unsubscribe: the token is the key
    "treatments:patient_link_calendar",  # a visit link's calendar file: the token is the key
    # A dermatologist's calendar feed, read by their calendar app: the secret URL is the key.
    "treatments:calendar_feed",
    # Emailed links that set a staff password (issue 13): the token is the key.
    "staff_setup",
    "password_reset",
    "password_reset_sent",
    "password_reset_confirm",
    # Providers' webhooks for patients' texts: the request's signature is the key.
    "treatments:sms_inbound_twilio",
    "treatments:sms_inbound_vonage",
    # Patients online (issue 15): no account; a one-time code to the contact given is the
    # key to anything about a patient, and every page is rate-limited per address.
    "portal:robots_txt",
    "portal:book_start",
    "portal:book_details",
    "portal:booking_verify",
    "portal:booking_choose",
    # The portal: its own session cookie, opened by a code, shows only that contact's family.
    "portal:portal_home",
    "portal:portal_verify",
    "portal:portal_preferences",
    "portal:portal_logout",
    # The FHIR API's CapabilityStatement (about no patient), and its token endpoint: the
    # client's id and secret are the key.
    "fhir:metadata",
    "fhir:token",
}  # a patient link: the token is the key
# Any logged-in user, role or not: the home page tells a user without a role what to do.
# The two-factor pages: the second step of logging in, for whoever passed the first.
LOGIN_ONLY = {"treatments:home", "two_factor_verify", "two_factor_enrol"}
# The FHIR API: a bearer token and its scopes open each one (fhir_api.auth.fhir_api), no
# session: a logged-in staff member without a token is refused (test_access_matrix).
TOKEN_ONLY = {
    "fhir:type",
    "fhir:instance",
    "fhir:everything",
    "fhir:media_content",
    "fhir:export",
    "fhir:export_status",
    "fhir:export_file",
}


def app_patterns(patterns, prefix="", namespace=""):
    """(route, pattern, name as `reverse` takes it) for each page outside the admin."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if getattr(pattern, "app_name", None) == "admin":
                continue  # the admin checks staff status and model permissions itself
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from app_patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern, namespace + pattern.name


PATTERNS = list(app_patterns(get_resolver().url_patterns))


def test_the_app_has_pages_to_check():
    assert len(PATTERNS) > 10


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "pattern", "name"), PATTERNS, ids=[route for route, _, _ in PATTERNS]
)
def test_every_page_declares_its_roles_or_is_public(route, pattern, name):
    if name in PUBLIC:
        return
    if name in TOKEN_ONLY:
        assert getattr(pattern.callback, "token_required", False), f"{route} checks no token"
        return
    if name in LOGIN_ONLY:
        assert Client().get("/" + route)["Location"].startswith("/login/")
        return
    assert getattr(pattern.callback, "allowed_roles", None), f"{route} has no role rule"
