"""Writes of the clinic app: staff, their authenticator devices, and the heartbeat that
/healthz reads. The reminder outbox (outbox.py), patient links (links.py) and the access
log (audit.py) are the clinic's other write modules, each a service of its own."""

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Heartbeat, StaffMember

BEAT_HEARTBEAT = "beat"

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

    Managers also get into the admin (is_staff); nobody else needs it.
    """
    staff_member.full_clean()
    staff_member.save()
    user = staff_member.user
    role_groups = Group.objects.filter(name__in=ROLE_GROUPS.values())
    user.groups.remove(*role_groups)
    if staff_member.is_active:
        user.groups.add(Group.objects.get(name=ROLE_GROUPS[staff_member.role]))
    user.is_staff = staff_member.role == StaffMember.Role.MANAGER and staff_member.is_active
    user.save(update_fields=["is_staff"])
    return staff_member
