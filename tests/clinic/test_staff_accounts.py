"""Staff accounts a clinic can run (issue 13): managers invite, change and deactivate
staff through the staff member, never by editing users; links by email set passwords;
a lost phone is a two-factor reset; every action is in the users' change history."""

import os
import re
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.test import Client, TestCase
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import StaffMember
from clinic.settings.environment import env

from ..factories import StaffMemberFactory, UserFactory
from .test_outbox import free_port, smtp_server  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-clinic-password"
NEW_PASSWORD = "another-long-clinic-password"
# A controlled instant, so link lifetimes are measured from a known start.
START = datetime(2027, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def two_factor(settings):
    settings.CLINIC_REQUIRE_2FA = True


@pytest.fixture
def verified_manager_client(manager_client):
    """The manager, past the second step of logging in with their own phone."""
    device = TOTPDevice.objects.create(
        user=manager_client.staff_member.user, name="phone", confirmed=True
    )
    session = manager_client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return manager_client


@pytest.fixture
def dermatologist():
    user = UserFactory(username="dana", email="dana@clinic.example.com")
    user.set_password(PASSWORD)
    user.save()
    return StaffMemberFactory(user=user, role=StaffMember.Role.DERMATOLOGIST)


def log_in(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def link_in(message, url_name: str) -> str:
    """The path of the emailed link to `url_name` (its address starts with CLINIC_BASE_URL)."""
    prefix = reverse(url_name, kwargs={"uidb64": "UID", "token": "TOKEN"}).split("UID")[0]
    match = re.search(rf"https?://[^/\s]+({re.escape(prefix)}[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def history_of(user: User) -> list[str]:
    return list(
        LogEntry.objects.filter(object_id=str(user.pk), content_type__model="user")
        .order_by("action_time", "pk")
        .values_list("change_message", flat=True)
    )


def mailing(client, path: str, form: dict):
    """POST, and send the email the request queued to go out when its transaction commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(path, form)


def first_entry_of(user: User) -> LogEntry:
    entries = LogEntry.objects.filter(object_id=str(user.pk), content_type__model="user")
    return entries.order_by("action_time", "pk").first()


def invite(manager_client, **fields):
    form = {
        "username": "nadia", "first_name": "Nadia", "last_name": "Okafor",
        "email": "nadia@clinic.example.com", "role": "dermatologist", "title": "Dr.",
        "working_hours-TOTAL_FORMS": "0", "working_hours-INITIAL_FORMS": "0",
        "time_off-TOTAL_FORMS": "0", "time_off-INITIAL_FORMS": "0",
        **fields,
    }  # fmt: skip
    return mailing(manager_client, reverse("admin:clinic_staffmember_add"), form)


def set_password(client, path: str, password: str = NEW_PASSWORD):
    """Open an emailed link and set the password on the page it leads to."""
    opened = client.get(path)
    assert opened.status_code == 302  # the token moves into the session
    return client.post(opened["Location"], {"new_password1": password, "new_password2": password})


def enrol(client, user: User) -> None:
    assert client.get(reverse("two_factor_enrol")).status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("two_factor_enrol"), {"token": code_for(device), "next": "/"})
    assert response.status_code == 302


# --- The attack steps of the finding now fail ---------------------------------------------


def test_a_manager_cannot_make_themselves_superuser(manager_client):
    manager = manager_client.staff_member.user
    response = manager_client.post(
        reverse("admin:auth_user_change", args=[manager.pk]),
        {"username": manager.username, "is_superuser": "on", "is_staff": "on"},
    )
    assert response.status_code == 403
    manager.refresh_from_db()
    assert not manager.is_superuser


def test_even_with_change_user_a_non_superuser_sees_no_privilege_fields(manager_client):
    manager = manager_client.staff_member.user
    manager.user_permissions.add(Permission.objects.get(codename="change_user"))
    url = reverse("admin:auth_user_change", args=[manager.pk])

    page = manager_client.get(url).content.decode()
    response = manager_client.post(
        url,
        {
            "username": manager.username, "first_name": "M", "last_name": "M",
            "email": manager.email, "is_superuser": "on", "is_staff": "on",
            "groups": [Group.objects.get(name="Dermatologists").pk],
        },
    )  # fmt: skip

    for field in ("is_superuser", "is_staff", "groups", "user_permissions", "password"):
        assert f'name="{field}"' not in page
    assert response.status_code == 302
    manager.refresh_from_db()
    assert not manager.is_superuser
    assert not manager.groups.filter(name="Dermatologists").exists()


@pytest.mark.parametrize("grant_change_user", [False, True])
def test_nobody_but_a_superuser_sets_another_persons_password(
    manager_client, dermatologist, grant_change_user
):
    if grant_change_user:
        manager_client.staff_member.user.user_permissions.add(
            Permission.objects.get(codename="change_user")
        )
    url = reverse("admin:auth_user_password_change", args=[dermatologist.user.pk])

    shown = manager_client.get(url)
    posted = manager_client.post(
        url, {"password1": "taken-over-1234", "password2": "taken-over-1234"}
    )

    assert (shown.status_code, posted.status_code) == (403, 403)
    dermatologist.user.refresh_from_db()
    assert dermatologist.user.check_password(PASSWORD)


def test_a_manager_cannot_delete_a_colleagues_phone(manager_client, dermatologist):
    device = TOTPDevice.objects.create(user=dermatologist.user, name="phone", confirmed=True)
    response = manager_client.post(
        reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_managers_hold_no_grant_to_edit_users_or_delete_devices():
    codenames = set(
        Group.objects.get(name="Clinic managers").permissions.values_list("codename", flat=True)
    )
    assert {"add_user", "change_user", "delete_totpdevice"} & codenames == set()
    assert {"view_user", "view_totpdevice", "change_staffmember"} <= codenames


def test_a_manager_cannot_add_a_user_outside_the_invitation(manager_client):
    assert manager_client.get(reverse("admin:auth_user_add")).status_code == 403


def test_a_password_alone_does_not_enrol_a_phone(two_factor, dermatologist):
    client = Client()
    log_in(client, "dana")
    response = client.get(reverse("two_factor_enrol"))
    assert response.status_code == 403
    assert "Ask the clinic manager for a two-factor reset" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=dermatologist.user).exists()


# --- Invitations -------------------------------------------------------------------------------


def test_the_invitation_form_has_no_password_or_privilege_field(manager_client):
    page = manager_client.get(reverse("admin:clinic_staffmember_add")).content.decode()
    assert 'name="email"' in page and 'name="role"' in page
    for field in ("password", "password1", "is_superuser", "is_staff", "groups", "user"):
        assert f'name="{field}"' not in page


def test_an_invited_dermatologist_sets_a_password_and_enrols_before_anything_else(
    two_factor, verified_manager_client, mailoutbox
):
    manager_client = verified_manager_client
    response = invite(manager_client)

    assert response.status_code == 302
    user = User.objects.get(username="nadia")
    assert not user.has_usable_password()
    assert user.staff_member.role == StaffMember.Role.DERMATOLOGIST
    assert user.groups.filter(name="Dermatologists").exists()
    assert [message.to for message in mailoutbox] == [["nadia@clinic.example.com"]]
    client = Client()
    set_up = set_password(client, link_in(mailoutbox[0], "staff_setup"))
    assert set_up["Location"] == reverse("two_factor_enrol")
    # Half logged in: every other page sends them to the second step first.
    assert client.get(reverse("treatments:my_day")).status_code == 302
    enrol(client, user)
    assert client.get(reverse("treatments:my_day")).status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert TOTPDevice.objects.get(user=user).confirmed
    assert history_of(user) == [
        "Invited by email",
        "Password set through an emailed invitation link",
    ]
    assert first_entry_of(user).user == manager_client.staff_member.user


def test_an_invitation_link_works_once(manager_client, mailoutbox):
    invite(manager_client)
    path = link_in(mailoutbox[0], "staff_setup")
    set_password(Client(), path)

    again = Client().get(path)

    assert again.status_code == 400
    assert "This link no longer works" in again.content.decode()


@pytest.mark.parametrize(("hours_later", "works"), [(71.9, True), (72.1, False)])
def test_an_invitation_link_works_for_72_hours(manager_client, mailoutbox, hours_later, works):
    with time_machine.travel(START, tick=False) as traveller:
        manager_client.force_login(manager_client.staff_member.user)  # a session from START
        invite(manager_client)
        traveller.shift(timedelta(hours=hours_later))
        response = Client().get(link_in(mailoutbox[0], "staff_setup"))
    assert response.status_code == (302 if works else 400)


def test_a_taken_user_name_or_address_is_a_form_error(manager_client, dermatologist):
    response = invite(manager_client, username="DANA", email="Dana@clinic.example.com")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"username", "email"}
    assert User.objects.filter(username__iexact="dana").count() == 1


def test_the_invitation_reaches_a_real_smtp_server(manager_client, smtp_server):  # noqa: F811
    invite(manager_client)

    assert smtp_server.recipients() == {"nadia@clinic.example.com": 1}
    body = smtp_server.messages[0].get_payload(decode=True).decode()
    assert "/login/setup/" in body and "72 hours" in body


def test_an_invitation_is_sent_again_only_before_a_password_is_set(manager_client, mailoutbox):
    invite(manager_client)
    staff_member = StaffMember.objects.get(user__username="nadia")
    resend = {"action": "send_invitation_again", "_selected_action": [staff_member.pk]}
    mailing(manager_client, reverse("admin:clinic_staffmember_changelist"), resend)
    assert len(mailoutbox) == 2
    set_password(Client(), link_in(mailoutbox[1], "staff_setup"))

    response = manager_client.post(
        reverse("admin:clinic_staffmember_changelist"), resend, follow=True
    )

    assert len(mailoutbox) == 2
    assert "has set a password already" in response.content.decode()


def test_deactivating_a_staff_member_ends_their_login(manager_client, dermatologist):
    theirs = Client()
    log_in(theirs, "dana")
    assert theirs.get(reverse("treatments:my_day")).status_code == 200
    form = {
        "role": "dermatologist", "title": "Dr.",
        "working_hours-TOTAL_FORMS": "0", "working_hours-INITIAL_FORMS": "0",
        "time_off-TOTAL_FORMS": "0", "time_off-INITIAL_FORMS": "0",
    }  # is_active left out: unticked  # fmt: skip

    response = manager_client.post(
        reverse("admin:clinic_staffmember_change", args=[dermatologist.pk]), form
    )

    assert response.status_code == 302
    dermatologist.user.refresh_from_db()
    assert not dermatologist.user.is_active
    assert theirs.get(reverse("treatments:my_day")).status_code == 302
    assert log_in(Client(), "dana").status_code == 200  # the login form again: refused
    entry = LogEntry.objects.get(content_type__model="staffmember", object_id=str(dermatologist.pk))
    assert entry.user == manager_client.staff_member.user
    assert "Is active" in entry.get_change_message()


# --- Password reset by email -------------------------------------------------------------------


def request_reset(client, email):
    return mailing(client, reverse("password_reset"), {"email": email})


def test_the_reset_answer_is_the_same_whether_the_address_exists_or_not(dermatologist, mailoutbox):
    known = request_reset(Client(), "dana@clinic.example.com")
    unknown = request_reset(Client(), "nobody@clinic.example.com")

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert known["Location"] == reverse("password_reset_sent")
    shown = [Client().get(response["Location"]).content for response in (known, unknown)]
    assert shown[0] == shown[1]
    assert [message.to for message in mailoutbox] == [["dana@clinic.example.com"]]


def test_a_reset_link_sets_a_new_password_and_ends_every_other_session(dermatologist, mailoutbox):
    elsewhere = Client()
    log_in(elsewhere, "dana")
    assert elsewhere.get(reverse("treatments:my_day")).status_code == 200
    request_reset(Client(), "DANA@clinic.example.com")
    client = Client()

    response = set_password(client, link_in(mailoutbox[0], "password_reset_confirm"))

    assert response.status_code == 302
    assert client.get(reverse("treatments:my_day")).status_code == 200
    assert elsewhere.get(reverse("treatments:my_day")).status_code == 302
    dermatologist.user.refresh_from_db()
    assert dermatologist.user.check_password(NEW_PASSWORD)
    assert history_of(dermatologist.user) == [
        "Password reset link requested",
        "Password set through an emailed password reset link",
    ]


@pytest.mark.parametrize(("minutes_later", "works"), [(29, True), (31, False)])
def test_a_reset_link_works_for_30_minutes(dermatologist, mailoutbox, minutes_later, works):
    with time_machine.travel(START, tick=False) as traveller:
        request_reset(Client(), "dana@clinic.example.com")
        traveller.shift(timedelta(minutes=minutes_later))
        response = Client().get(link_in(mailoutbox[0], "password_reset_confirm"))
    assert response.status_code == (302 if works else 400)


def test_a_reset_link_works_once_and_a_forged_one_never(dermatologist, mailoutbox):
    request_reset(Client(), "dana@clinic.example.com")
    path = link_in(mailoutbox[0], "password_reset_confirm")
    set_password(Client(), path)

    used = Client().get(path)
    forged = Client().get(path.replace(path.split("/")[-2], "cz1tg8-0123456789abcdef"))
    wrong_user = Client().get(reverse("password_reset_confirm", args=["%00", "x-y"]))

    assert [used.status_code, forged.status_code, wrong_user.status_code] == [400, 400, 400]
    assert "This link no longer works" in used.content.decode()


def test_a_setup_link_is_not_a_reset_link(manager_client, mailoutbox):
    invite(manager_client)
    path = link_in(mailoutbox[0], "staff_setup").replace("/login/setup/", "/login/reset/")
    assert Client().get(path).status_code == 400


def test_reset_requests_are_limited_per_address_known_or_not(dermatologist, mailoutbox):
    for address in ("dana@clinic.example.com", "nobody@clinic.example.com"):
        answers = [
            request_reset(Client(REMOTE_ADDR=f"10.0.0.{n}"), address).status_code for n in range(4)
        ]
        assert answers == [302, 302, 302, 429]
    assert len(mailoutbox) == 3


def test_reset_requests_are_limited_per_client_address(mailoutbox):
    client = Client(REMOTE_ADDR="10.0.0.7")
    answers = [request_reset(client, f"someone{n}@example.com").status_code for n in range(21)]
    assert answers == [302] * 20 + [429]
    refused = request_reset(client, "someone-else@example.com")
    assert "Too many reset requests" in refused.content.decode()
    assert request_reset(Client(REMOTE_ADDR="10.0.0.8"), "x@example.com").status_code == 302


def test_a_bad_reset_request_is_a_form_error():
    response = Client().post(reverse("password_reset"), {"email": "not an address"})
    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()


# --- Two-factor reset --------------------------------------------------------------------------


def test_a_two_factor_reset_removes_phone_and_password_and_the_user_enrols_again(
    two_factor, verified_manager_client, dermatologist, mailoutbox
):
    manager_client = verified_manager_client
    user = dermatologist.user
    TOTPDevice.objects.create(user=user, name="lost phone", confirmed=True)
    theirs = Client()
    log_in(theirs, "dana")

    response = mailing(
        manager_client,
        reverse("admin:clinic_staffmember_changelist"),
        {"action": "reset_two_factor", "_selected_action": [dermatologist.pk]},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert theirs.get(reverse("treatments:my_day")).status_code == 302
    assert theirs.get(reverse("treatments:my_day"))["Location"].startswith(reverse("login"))
    client = Client()
    assert set_password(client, link_in(mailoutbox[0], "staff_setup"))["Location"] == reverse(
        "two_factor_enrol"
    )
    enrol(client, user)
    assert client.get(reverse("treatments:my_day")).status_code == 200
    assert history_of(user) == [
        "Two-factor reset: devices and password removed",
        "Password set through an emailed invitation link",
    ]
    assert first_entry_of(user).user == manager_client.staff_member.user


def test_a_receptionist_cannot_reset_anyones_two_factor(receptionist_client, dermatologist):
    device = TOTPDevice.objects.create(user=dermatologist.user, name="phone", confirmed=True)
    response = receptionist_client.post(
        reverse("admin:clinic_staffmember_changelist"),
        {"action": "reset_two_factor", "_selected_action": [dermatologist.pk]},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_with_redis_every_web_process_counts_reset_requests_together(settings, mailoutbox):
    """CLINIC_CACHE_URL=redis://…: the limits are counted in Redis, shared by the web
    processes, not in the memory of one."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        pytest.skip("needs the Redis that CELERY_BROKER_URL names")
    url = broker.rsplit("/", 1)[0] + "/15"
    settings.CACHES = {"default": env.cache_url_config(url)}
    cache.clear()
    try:
        answers = [request_reset(Client(), "lee@example.com").status_code for _ in range(4)]
        keys = redis.Redis.from_url(url, socket_timeout=2).keys("*clinic:reset:address:*")
    finally:
        cache.clear()
    assert answers == [302, 302, 302, 429]
    assert len(keys) == 1


def test_a_reset_request_with_the_cache_unreachable_is_refused_with_a_message(settings):
    port = free_port()  # nothing listens there
    settings.CACHES = {"default": env.cache_url_config(f"redis://127.0.0.1:{port}/0")}
    settings.CACHES["default"]["OPTIONS"] = {"socket_connect_timeout": 2, "socket_timeout": 2}

    response = request_reset(Client(), "lee@example.com")

    assert response.status_code == 503
    assert "Password resets are unavailable for a moment" in response.content.decode()


def test_the_access_log_masks_the_token_of_an_emailed_link(dermatologist, mailoutbox):
    from clinic.gunicorn_conf import redacted_path

    request_reset(Client(), "dana@clinic.example.com")
    path = link_in(mailoutbox[0], "password_reset_confirm")
    token = path.split("/")[-2]

    assert token not in redacted_path(path) and redacted_path(path).endswith("/<token>/")
    assert token not in redacted_path(path.rstrip("/"))  # before APPEND_SLASH redirects
    set_password_page = Client().get(path)["Location"]
    assert redacted_path(set_password_page) == set_password_page  # no token left in it
    assert redacted_path("/login/reset/sent/") == "/login/reset/sent/"


def test_django_allows_each_link_its_whole_lifetime(settings):
    """Django's token check stops at PASSWORD_RESET_TIMEOUT first: a shorter setting would
    quietly shorten the invitations."""
    from clinic.services import RESET_LINK_MAX_AGE, SETUP_LINK_MAX_AGE

    longest = max(SETUP_LINK_MAX_AGE, RESET_LINK_MAX_AGE)
    assert settings.PASSWORD_RESET_TIMEOUT >= longest.total_seconds()


def test_a_manager_neither_resets_nor_deactivates_a_superuser(manager_client, mailoutbox):
    boss = StaffMemberFactory(
        user=UserFactory(username="owner", is_superuser=True), role=StaffMember.Role.MANAGER
    )
    device = TOTPDevice.objects.create(user=boss.user, name="phone", confirmed=True)

    reset = mailing(
        manager_client,
        reverse("admin:clinic_staffmember_changelist"),
        {"action": "reset_two_factor", "_selected_action": [boss.pk]},
    )
    # The page the refusal leads to says why (read now: the next page shown, the 403's
    # included, would show the message instead).
    assert "Only a superuser resets the two-factor login" in (
        manager_client.get(reset["Location"]).content.decode()
    )
    change = manager_client.post(
        reverse("admin:clinic_staffmember_change", args=[boss.pk]), {"role": "manager"}
    )

    assert change.status_code == 403
    boss.user.refresh_from_db()
    assert boss.user.is_active and boss.user.has_usable_password()
    assert TOTPDevice.objects.filter(pk=device.pk).exists() and mailoutbox == []


@pytest.mark.parametrize(
    ("language", "subject"), [("es", "Su cuenta en "), ("", "Your account at ")]
)
def test_the_invitation_is_in_the_language_set_for_the_new_staff_member(
    manager_client, mailoutbox, language, subject
):
    """Not in the manager's: a Spanish-speaking manager invites both."""
    StaffMember.objects.filter(pk=manager_client.staff_member.pk).update(language="es")

    invite(manager_client, language=language)

    (message,) = mailoutbox
    assert message.subject.startswith(subject)
    assert message.body.startswith("Hola" if language == "es" else "Hello")
