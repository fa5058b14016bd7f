"""Who may do what, by staff role. Every view of the app names the roles it admits."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .models import StaffMember

Role = StaffMember.Role
# Demographics and the schedule are everyone's (docs/clinical-background.md).
EVERY_ROLE = (Role.RECEPTIONIST, Role.DERMATOLOGIST, Role.MANAGER)
# Booking, moving, cancelling, checking in, registering patients: the front desk.
FRONT_DESK = (Role.RECEPTIONIST, Role.MANAGER)
# Clinical work: the dermatologists.
CLINICIANS = (Role.DERMATOLOGIST,)
# Clinical notes and photos: the dermatologists write them, the manager reads them.
CLINICAL_READERS = (Role.DERMATOLOGIST, Role.MANAGER)


def role_of(user) -> str | None:
    """The user's active staff role, or None (anonymous, no profile, or inactive)."""
    if not user.is_authenticated:
        return None
    staff_member = getattr(user, "staff_member", None)
    if staff_member is None or not staff_member.is_active:
        return None
    return staff_member.role


def has_role(user, roles) -> bool:
    return user.is_superuser or role_of(user) in roles


def role_required(*roles):
    """Anonymous visitors go to the login page; a logged-in user without the role gets 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, roles):
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        wrapped.allowed_roles = roles
        return wrapped

    return decorator
