import pytest
from django.test import Client

from clinic.models import StaffMember

from .factories import StaffMemberFactory, UserFactory


def _client_for(role: str) -> Client:
    client = Client()
    staff_member = StaffMemberFactory(user=UserFactory(username=role), role=role)
    client.force_login(staff_member.user)
    client.staff_member = staff_member
    return client


@pytest.fixture
def receptionist_client(db):
    return _client_for(StaffMember.Role.RECEPTIONIST)


@pytest.fixture
def dermatologist_client(db):
    return _client_for(StaffMember.Role.DERMATOLOGIST)


@pytest.fixture
def manager_client(db):
    return _client_for(StaffMember.Role.MANAGER)


@pytest.fixture
def as_role(request):
    """A logged-in client for a role name, or an anonymous one for "anonymous"."""

    def client_for(role: str) -> Client:
        return Client() if role == "anonymous" else request.getfixturevalue(f"{role}_client")

    return client_for


def pytest_report_header(config):
    from django.conf import settings

    if settings.TEST_NOW:
        return f"clock: CLINIC_TEST_NOW, this run started at {settings.TEST_NOW.isoformat()}"
    return None
