"""Login and sessions, CSRF, headers: lockout, two-factor login, idle and absolute expiry."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import StaffMember

from ..factories import StaffMemberFactory, UserFactory
from .test_access_matrix import EXPECTED, NAMES, clinic, private_media, url_for  # noqa: F401
from .test_url_access import TOKEN_ONLY

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-clinic-password"


@pytest.fixture
def manager():
    user = UserFactory(username="morgan", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    StaffMemberFactory(user=user, role=StaffMember.Role.MANAGER)
    return user


def log_in(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


# --- Lockout ---------------------------------------------------------------------------


def test_five_failed_logins_lock_the_user_name_out_with_a_clear_page(manager, settings):
    client = Client()
    for _ in range(settings.CLINIC_LOGIN_FAILURE_LIMIT - 1):
        assert log_in(client, "morgan", "wrong").status_code == 200
    locked = log_in(client, "morgan", "wrong")
    assert locked.status_code == 429
    assert "Login locked" in locked.content.decode()
    # Even the right password is refused until the cool-off ends.
    assert log_in(client, "morgan").status_code == 429


def test_the_lockout_is_per_user_name_and_address(manager, settings):
    for _ in range(settings.CLINIC_LOGIN_FAILURE_LIMIT):
        log_in(Client(REMOTE_ADDR="10.0.0.9"), "morgan", "wrong")
    assert log_in(Client(REMOTE_ADDR="10.0.0.9"), "morgan").status_code == 429
    assert log_in(Client(REMOTE_ADDR="10.0.0.10"), "morgan").status_code == 302


def test_the_session_key_changes_at_login(manager):
    client = Client()
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key
    assert log_in(client, "morgan").status_code == 302
    assert client.session.session_key != before


# --- Two-factor login -------------------------------------------------------------------


@pytest.fixture
def two_factor(settings):
    settings.CLINIC_REQUIRE_2FA = True


def test_without_two_factor_the_demo_lets_a_password_in(manager):
    client = Client()
    log_in(client, "morgan")
    assert client.get(reverse("treatments:home")).status_code == 200


def allow_enrolment(client, user):
    """What an emailed invitation or reset link does: this session may enrol a phone."""
    from clinic.views_auth import ENROLMENT_ALLOWED

    session = client.session
    session[ENROLMENT_ALLOWED] = user.pk
    session.save()


def test_two_factor_sends_a_user_without_a_device_to_enrol(two_factor, manager):
    client = Client()
    log_in(client, "morgan")
    allow_enrolment(client, manager)
    response = client.get(reverse("treatments:patient_search"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("two_factor_enrol"))
    page = response.content.decode()
    assert "<svg" in page and "<img" not in page.split("<main")[1]


def test_two_factor_guards_the_admin_too(two_factor, manager):
    client = Client()
    log_in(client, "morgan")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_verify"))


def test_enrolling_with_a_valid_code_gets_in(two_factor, manager):
    client = Client()
    log_in(client, "morgan")
    allow_enrolment(client, manager)
    client.get(reverse("two_factor_enrol"))
    device = TOTPDevice.objects.get(user=manager)
    response = client.post(reverse("two_factor_enrol"), {"token": code_for(device), "next": "/"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_valid_totp_code_gets_in_and_a_wrong_one_does_not(two_factor, manager):
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    client = Client()
    log_in(client, "morgan")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        wrong = client.post(reverse("two_factor_verify"), {"token": "000000"})
        assert wrong.status_code == 200
        assert client.get(reverse("treatments:home")).status_code == 302
        traveller.shift(timedelta(seconds=5))  # past django-otp's pause after a wrong code
        client.post(reverse("two_factor_verify"), {"token": code_for(device), "next": "/"})
    assert client.get(reverse("treatments:home")).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_user_with_a_device_cannot_enrol_another(two_factor, manager):
    TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    client = Client()
    log_in(client, "morgan")
    response = client.get(reverse("two_factor_enrol"))
    assert response["Location"].startswith(reverse("two_factor_verify"))
    assert TOTPDevice.objects.filter(user=manager).count() == 1


def test_production_requires_two_factor_by_default():
    from tests.clinic.test_settings import PRODUCTION, run_django

    result = run_django(
        PRODUCTION,
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.CLINIC_REQUIRE_2FA)",
    )
    assert result.stdout.strip().endswith("True"), result.stderr


# --- Session expiry ---------------------------------------------------------------------


def test_an_idle_session_expires_after_thirty_minutes(manager):
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        log_in(client, "morgan")
        traveller.shift(timedelta(minutes=29))
        assert client.get(reverse("treatments:home")).status_code == 200
        traveller.shift(timedelta(minutes=29))  # active a minute ago: still in
        assert client.get(reverse("treatments:home")).status_code == 200
        traveller.shift(timedelta(minutes=31))
        response = client.get(reverse("treatments:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session


def test_a_busy_session_still_ends_twelve_hours_after_login(manager):
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        log_in(client, "morgan")
        for _ in range(12 * 3 + 2):
            traveller.shift(timedelta(minutes=20))
            last = client.get(reverse("treatments:home"))
            if last.status_code != 200:
                break
    assert last.status_code == 302
    assert last["Location"].startswith(reverse("login"))


# --- CSRF on every state-changing view ----------------------------------------------------

POST_VIEWS = sorted(
    name
    for name in NAMES
    # One-click unsubscribe (RFC 8058) is a POST from the mail provider, with no token to
    # carry; the link's own token is the key (tests/clinic/test_unsubscribe.py).
    if name
    not in {
        "login",
        "treatments:patient_link",
        "treatments:patient_link_unsubscribe",
        "two_factor_verify",
        "two_factor_enrol",
    }
    # The FHIR API: a bearer token authenticates, never a cookie (a session alone gets
    # 401), so a forged cross-site POST carries nothing (tests/fhir_api/test_auth.py).
    and name not in TOKEN_ONLY
    and name != "fhir:token"
    and EXPECTED[name] != (302, 200, 200, 200)
    or name
    in {
        "logout",
        "treatments:appointment_book",
        "treatments:patient_register",
        "treatments:waitlist_add",
    }
)


@pytest.mark.parametrize("name", POST_VIEWS)
def test_every_state_changing_view_refuses_a_post_without_a_csrf_token(
    clinic,  # noqa: F811
    name,
    request,
):
    role = "dermatologist" if EXPECTED[name][2] == 200 else "manager"
    logged_in = request.getfixturevalue(f"{role}_client")
    client = Client(enforce_csrf_checks=True)
    client.cookies = logged_in.cookies
    assert client.post(url_for(name, clinic), {}).status_code == 403


@pytest.mark.parametrize("name", ["login", "two_factor_verify", "two_factor_enrol"])
def test_the_login_forms_refuse_a_post_without_a_csrf_token(name, manager):
    client = Client(enforce_csrf_checks=True)
    assert (
        client.post(reverse(name), {"username": "morgan", "password": PASSWORD}).status_code == 403
    )


# --- Headers ------------------------------------------------------------------------------


def test_pages_carry_the_content_security_policy(receptionist_client):
    policy = receptionist_client.get(reverse("treatments:home"))["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy


def test_the_admin_and_the_login_page_carry_it_too(manager_client):
    for url in (reverse("admin:index"), reverse("login")):
        assert "script-src 'self'" in Client().get(url)["Content-Security-Policy"]


def test_no_template_has_an_inline_script_or_style_attribute():
    from pathlib import Path

    for path in (Path(__file__).resolve().parents[2] / "templates").rglob("*.html"):
        text = path.read_text()
        assert "style=" not in text, path
        assert "<script>" not in text and "onclick=" not in text, path


def test_nosniff_and_referrer_policy_are_sent(receptionist_client):
    response = receptionist_client.get(reverse("treatments:home"))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
