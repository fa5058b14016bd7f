"""Fixtures of the public pages' tests: a clinic open all week with two visit types
bookable online, at a moment the test controls, and empty rate-limit counters."""

import re
from datetime import time

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from treatments.models import ProcedureType

from ..factories import StaffMemberFactory
from ..treatments.conftest import open_all_week
from ..treatments.services.test_reminders import at

MONDAY_9 = at(2026, 5, 4, 9, 0)
TUESDAY_10 = at(2026, 5, 5, 10, 0)


@pytest.fixture(autouse=True)
def fresh_limits():
    """The limits count in the cache: each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def monday():
    """Monday 4 May 2026, 9:00 at the clinic; the clock stands still."""
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture
def dermatologist(db):
    return open_all_week(StaffMemberFactory(), starts_at=time(9, 0), ends_at=time(17, 0))


@pytest.fixture
def consultation(db):
    return ProcedureType.objects.create(
        slug="consultation",
        name="Consultation",
        is_procedure=False,
        duration_minutes=20,
        needs_treatment_room=False,
        bookable_online=True,
    )


@pytest.fixture
def extraction(db):
    """A named procedure: online, for patients the clinic knows only."""
    extraction = ProcedureType.objects.get(slug="extraction")
    extraction.bookable_online = True
    extraction.online_returning_only = True
    extraction.needs_treatment_room = False
    extraction.save()
    return extraction


def ask_portal_code(client: Client, contact: str):
    """Ask for a portal code, then run what the request's commit queued: the worker's
    sending, at once under worker_at_once. The answer: a redirect to the code's page."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("portal:portal_home"), {"contact": contact})


def last_code() -> str:
    """The code in the newest email of the test outbox."""
    return re.search(r"\b([0-9]{6})\b", mail.outbox[-1].body).group(1)


def local(moment) -> str:
    return timezone.localtime(moment).isoformat()
