from datetime import time, timedelta

import pytest
from django.utils import timezone

from treatments.models import ProcedureType

from ..factories import RoomFactory, StaffMemberFactory, WorkingHoursFactory


def open_all_week(dermatologist, *, starts_at=time(8, 0), ends_at=time(18, 0)):
    for weekday in range(7):
        WorkingHoursFactory(
            staff_member=dermatologist, weekday=weekday, starts_at=starts_at, ends_at=ends_at
        )
    return dermatologist


@pytest.fixture
def cryotherapy(db):
    return ProcedureType.objects.get(slug="cryotherapy")


@pytest.fixture
def dermatologist(db):
    return open_all_week(StaffMemberFactory())


@pytest.fixture
def treatment_room(db):
    return RoomFactory()


@pytest.fixture
def tomorrow_at():
    """An aware datetime tomorrow at the given local hour and minute."""

    def at(hour: int, minute: int = 0):
        day = timezone.localdate() + timedelta(days=1)
        return timezone.make_aware(timezone.datetime.combine(day, time(hour, minute)))

    return at
