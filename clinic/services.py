"""Writes of the clinic app: staff and their accounts (invitations, password and
two-factor resets), their authenticator devices, their calendar feeds, and the heartbeat that
/healthz reads. The reminder outbox (outbox.py), patient links (links.py) and the access
log (audit.py) are the clinic's other write modules, each a service of its own."""

import hashlib
import logging
import secrets
import smtplib
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode
from django.utils.translation import gettext
from django_otp.plugins.otp_totp.models import TOTPDevice
from redis.exceptions import RedisError

from patients.models import Patient
from patients.services import patient_update

from .errors import ServiceError, StateConflict
from .models import CalendarFeed, Heartbeat, StaffMember
from .schedule_version import schedule_changed_everywhere

BEAT_HEARTBEAT = "beat"
# Written when the failover SMS provider carried messages; /healthz shows when it last did.
SMS_FAILOVER_HEARTBEAT = "sms-failover"

# The group of each role; the groups and their permissions are made by a migration.
ROLE_GROUPS: dict[str, str] = {
    StaffMember.Role.DERMATOLOGIST: "Dermatologists",
    StaffMember.Role.RECEPTIONIST: "Receptionists",
    StaffMember.Role.MANAGER: "Clinic managers",
}


def heartbeat_record(*, name: str) -> Heartbeat:
    heartbeat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"last_seen_at": timezone.now()}
    )
    return heartbeat


def totp_device_for_enrolment(*, user: User) -> TOTPDevice:
    """The user's unconfirmed authenticator device, made on their first enrolment page."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    return device


def totp_device_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm the device when the code from the app is right; False when it is not."""
    if not device.verify_token(token.strip()):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


@transaction.atomic
def staff_member_save(*, staff_member: StaffMember) -> StaffMember:
    """Save a staff member and put their user in exactly the group of their role.

    Managers also get into the admin (is_staff); nobody else needs it. A deactivated
    staff member's user is deactivated too: they can no longer log in, and their open
    sessions end at their next request.
    """
    staff_member.full_clean()
    staff_member.save()
    user = staff_member.user
    role_groups = Group.objects.filter(name__in=ROLE_GROUPS.values())
    user.groups.remove(*role_groups)
    if staff_member.is_active:
        user.groups.add(Group.objects.get(name=ROLE_GROUPS[staff_member.role]))
    user.is_staff = staff_member.role == StaffMember.Role.MANAGER and staff_member.is_active
    user.is_active = staff_member.is_active
    user.save(update_fields=["is_staff", "is_active"])
    return staff_member


def patient_details_change(*, patient: Patient, by: User | None, **arguments: Any) -> Patient:
    """patients.services.patient_update (same arguments, same refusals); a change of the
    patient's name also bumps every day's schedule version in its transaction, for the
    schedules show patients' names (clinic/schedule_version.py)."""
    with transaction.atomic():
        changed = patient_update(patient=patient, by=by, **arguments)
        if arguments.keys() & {"first_name", "last_name"}:
            schedule_changed_everywhere()
    return changed


# --- Staff accounts: invitations, password resets, two-factor resets ------------------
# Managers add, change and deactivate staff only here; nobody sets another person's
# password. Each action leaves a row in the admin's change history of the user
# (LogEntry), where the clinic already finds who changed which staff member.

logger = logging.getLogger(__name__)

SETUP_LINK_MAX_AGE = timedelta(hours=72)
RESET_LINK_MAX_AGE = timedelta(minutes=30)
# Reset requests per hour: for one address (however it is spelt), and from one client.
RESET_REQUESTS_PER_ADDRESS = 3
RESET_REQUESTS_PER_IP_ADDRESS = 20
RESET_REQUEST_WINDOW_SECONDS = 3600


class StaffLinkTokens(PasswordResetTokenGenerator):
    """Django's password reset tokens with their own lifetime and salt.

    A token is bound to the user's password hash, last login and email: setting the
    password or logging in once makes it stale, so each link works once.
    """

    def __init__(self, *, purpose: str, max_age: timedelta) -> None:
        super().__init__()
        self.key_salt = f"clinic.services.StaffLinkTokens.{purpose}"
        self.max_age = max_age

    def check_token(self, user: User | None, token: str | None) -> bool:
        # Django's check refuses tokens older than PASSWORD_RESET_TIMEOUT (72 h by
        # default); ours then applies the link's own, shorter or equal, lifetime.
        if not super().check_token(user, token):
            return False
        made_at = base36_to_int(str(token).split("-")[0])
        return self._num_seconds(self._now()) - made_at <= self.max_age.total_seconds()


# Invitations and two-factor resets: set a password, then enrol a phone.
SETUP_TOKENS = StaffLinkTokens(purpose="setup", max_age=SETUP_LINK_MAX_AGE)
# "Forgot my password".
RESET_TOKENS = StaffLinkTokens(purpose="reset", max_age=RESET_LINK_MAX_AGE)


class TooManyResetRequests(ServiceError):
    status = HTTPStatus.TOO_MANY_REQUESTS


def _link(url_name: str, tokens: StaffLinkTokens, user: User) -> str:
    path = reverse(
        url_name,
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": tokens.make_token(user),
        },
    )
    base_url: str = settings.CLINIC_BASE_URL
    return base_url.rstrip("/") + path


def _send_account_email(*, user: User, template: str, link: str) -> None:
    """Send after the transaction commits, so a rolled-back change mails nobody. A failed
    send is logged (without the link); the manager can send the invitation again. Written
    in the staff member's language (else the clinic's)."""
    context = {"user": user, "link": link, "clinic_name": settings.CLINIC_NAME}
    # In the reader's language (the one the manager set for them), not the sender's.
    staff_member = getattr(user, "staff_member", None)
    with translation.override(getattr(staff_member, "language", "") or settings.LANGUAGE_CODE):
        subject = render_to_string(f"clinic/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"clinic/email/{template}.txt", context)

    def send() -> None:
        try:
            send_mail(subject, body, None, [user.email])
        except (OSError, smtplib.SMTPException) as error:
            logger.warning("Account email %s to user %s failed: %s", template, user.pk, error)

    transaction.on_commit(send)


def _audit(*, user: User, by: User, message: str, flag: int = CHANGE) -> None:
    LogEntry.objects.log_actions(
        user_id=by.pk, queryset=[user], action_flag=flag, change_message=message
    )


@transaction.atomic
def staff_member_invite(
    *,
    staff_member: StaffMember,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    by: User,
) -> StaffMember:
    """Create the user of a new staff member, with no usable password, and email them a
    link (valid 72 h, once) to set their password and enrol two-factor login."""
    user = User(username=username, first_name=first_name, last_name=last_name, email=email)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    staff_member.user = user
    staff_member_save(staff_member=staff_member)
    _audit(user=user, by=by, message=gettext("Invited by email"), flag=ADDITION)
    _send_account_email(
        user=user, template="staff_invite", link=_link("staff_setup", SETUP_TOKENS, user)
    )
    return staff_member


@transaction.atomic
def staff_invite_resend(*, staff_member: StaffMember, by: User) -> None:
    """A new invitation for someone who has not set a password yet (an older link stays
    valid until it expires: both are bound to the same unused account)."""
    user = staff_member.user
    if user.has_usable_password():
        raise ServiceError(gettext("%(name)s has set a password already.") % {"name": staff_member})
    if not user.email:
        raise ServiceError(gettext("%(name)s has no email address.") % {"name": staff_member})
    _audit(user=user, by=by, message=gettext("Invitation sent again"))
    _send_account_email(
        user=user, template="staff_invite", link=_link("staff_setup", SETUP_TOKENS, user)
    )


@transaction.atomic
def staff_two_factor_reset(*, staff_member: StaffMember, by: User) -> None:
    """For a lost phone: remove the user's devices and password, which ends their
    sessions, and email them a link (valid 72 h, once) to set a new password and enrol
    a new phone. Nobody else learns or sets the password. A superuser's is reset only
    by another superuser."""
    user = staff_member.user
    if user.is_superuser and not by.is_superuser:
        raise ServiceError(
            gettext("Only a superuser resets the two-factor login of %(name)s.")
            % {"name": staff_member}
        )
    if not user.email:
        raise ServiceError(gettext("%(name)s has no email address.") % {"name": staff_member})
    TOTPDevice.objects.filter(user=user).delete()
    user.set_unusable_password()
    user.save(update_fields=["password"])
    _audit(user=user, by=by, message=gettext("Two-factor reset: devices and password removed"))
    _send_account_email(
        user=user, template="two_factor_reset", link=_link("staff_setup", SETUP_TOKENS, user)
    )


class ResetRequestsUnavailable(ServiceError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


def _count_request(key: str, limit: int) -> bool:
    """Count one request under `key`; False once there were more than `limit` this window.

    A cache that cannot be reached refuses the request: without a count there is no limit.
    """
    try:
        cache.add(key, 0, timeout=RESET_REQUEST_WINDOW_SECONDS)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=RESET_REQUEST_WINDOW_SECONDS)
            count = 1
    except (OSError, RedisError) as error:
        logger.warning("Password reset limits cannot be counted: %s", error)
        raise ResetRequestsUnavailable(
            gettext("Password resets are unavailable for a moment. Please try again later.")
        ) from None
    return count <= limit


def staff_password_reset_request(*, email: str, ip_address: str | None) -> None:
    """Email a reset link (valid 30 minutes, once) to each active user with this address
    and a password. Says nothing about whether there was one; refuses with
    TooManyResetRequests past the hourly limits, for known and unknown addresses alike."""
    address = email.strip().lower()
    digest = hashlib.sha256(address.encode()).hexdigest()  # no address in the cache keys
    by_address = _count_request(f"clinic:reset:address:{digest}", RESET_REQUESTS_PER_ADDRESS)
    by_ip = _count_request(f"clinic:reset:ip:{ip_address}", RESET_REQUESTS_PER_IP_ADDRESS)
    if not (by_address and by_ip):
        raise TooManyResetRequests(gettext("Too many reset requests. Please try again in an hour."))
    for user in User.objects.filter(email__iexact=address, is_active=True):
        if user.has_usable_password():
            with transaction.atomic():
                _audit(user=user, by=user, message=gettext("Password reset link requested"))
                _send_account_email(
                    user=user,
                    template="password_reset",
                    link=_link("password_reset_confirm", RESET_TOKENS, user),
                )


def staff_password_set(*, user: User, password: str, link: str) -> User:
    """Set the user's password from an invitation or reset link (`link` names which).

    The new password hash ends every other session of the user: Django checks it on
    each request. The form has run the password validators already.
    """
    user.set_password(password)
    user.save(update_fields=["password"])
    _audit(
        user=user,
        by=user,
        message=gettext("Password set through an emailed %(link)s link") % {"link": link},
    )
    return user


# --- Calendar feeds: a dermatologist's schedule in their calendar app ---


def calendar_feed_token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_create(*, staff_member: StaffMember, by: User) -> str:
    """Give a dermatologist a new secret feed URL, revoking the one they had. Returns the
    token, which is never stored (only its SHA-256): the caller shows it once.

    Two requests at once for the same person: one wins, the other is a StateConflict."""
    if staff_member.role != StaffMember.Role.DERMATOLOGIST:
        raise ServiceError(gettext("Only a dermatologist has a calendar feed."))
    token = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            CalendarFeed.objects.filter(staff_member=staff_member).delete()
            CalendarFeed.objects.create(
                staff_member=staff_member,
                token_sha256=calendar_feed_token_sha256(token),
                created_by=by,
            )
    except IntegrityError:
        raise StateConflict(
            gettext("A new calendar feed was made meanwhile. Reload the page.")
        ) from None
    _audit(user=staff_member.user, by=by, message="Calendar feed: new URL made")
    return token


def calendar_feed_revoke(*, staff_member: StaffMember, by: User) -> bool:
    """Revoke the dermatologist's feed URL (it answers 404 from now on); False if they had
    none."""
    deleted, _ = CalendarFeed.objects.filter(staff_member=staff_member).delete()
    if deleted:
        _audit(user=staff_member.user, by=by, message="Calendar feed: URL revoked")
    return bool(deleted)


class FeedFetchesUnavailable(ServiceError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


def calendar_feed_fetch_count(*, feed: CalendarFeed) -> bool:
    """Count one fetch of the feed; False once it was fetched more than
    CLINIC_CALENDAR_FEED_FETCHES_PER_HOUR times this hour (a leaked URL polled by a
    script, a misconfigured client). A cache that cannot be reached refuses the fetch
    (FeedFetchesUnavailable): without a count there is no limit."""
    key = f"calendar-feed-fetches:{feed.pk}"
    try:
        cache.add(key, 0, timeout=3600)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=3600)
            count = 1
    except (OSError, RedisError) as error:
        logger.warning("Calendar feed fetches cannot be counted: %s", error)
        raise FeedFetchesUnavailable("The calendar feed is unavailable for a moment.") from None
    return count <= settings.CLINIC_CALENDAR_FEED_FETCHES_PER_HOUR
