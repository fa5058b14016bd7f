"""Who may do what, by staff role. Every view of the app names the roles it admits."""

from collections.abc import Callable, Collection
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext

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

View = Callable[..., HttpResponseBase]


def role_of(user: User | AnonymousUser) -> str | None:
    """The user's active staff role, or None (anonymous, no profile, or inactive)."""
    if not user.is_authenticated:
        return None
    staff_member = getattr(user, "staff_member", None)
    if staff_member is None or not staff_member.is_active:
        return None
    return staff_member.role


def has_role(user: User | AnonymousUser, roles: Collection[str]) -> bool:
    return user.is_superuser or role_of(user) in roles


def role_required(*roles: str) -> Callable[[View], View]:
    """Anonymous visitors go to the login page; a logged-in user without the role gets 403."""

    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_role(request.user, roles):
                raise PermissionDenied(gettext("Your role does not allow this."))
            return view(request, *args, **kwargs)

        # Which roles a view admits, for the tests that check every view names them; mypy
        # has no type for a function with an attribute.
        wrapped.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator
