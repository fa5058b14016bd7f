"""Writes of the clinic app: staff, and the heartbeat that /healthz reads."""

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from .models import Heartbeat, StaffMember

BEAT_HEARTBEAT = "beat"

# The group of each role; the groups and their permissions are made by a migration.
ROLE_GROUPS = {
    StaffMember.Role.DERMATOLOGIST: "Dermatologists",
    StaffMember.Role.RECEPTIONIST: "Receptionists",
    StaffMember.Role.MANAGER: "Clinic managers",
}


def heartbeat_record(*, name: str) -> Heartbeat:
    heartbeat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"last_seen_at": timezone.now()}
    )
    return heartbeat


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
