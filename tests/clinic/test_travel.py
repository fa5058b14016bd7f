"""CLINIC_TEST_NOW moves the suite, and the processes it starts, to one ticking clock."""

import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured

from clinic.settings.travel import parse_test_now

from .test_settings import run_django

PRINT_NOW = "from django.utils import timezone; print(timezone.now().isoformat())"
TEST_SETTINGS = {"DJANGO_SETTINGS_MODULE": "clinic.settings.test", "CLINIC_TEST_RUN": "travel"}


def test_a_naive_test_now_is_clinic_wall_clock_time():
    # 08:30 on the spring-forward day is already daylight time in New York (UTC-4).
    landed = parse_test_now("2027-03-14T08:30", "America/New_York")
    assert landed.astimezone(UTC) == datetime(2027, 3, 14, 12, 30, tzinfo=UTC)


def test_a_test_now_that_is_no_date_stops_the_run_by_name():
    with pytest.raises(ImproperlyConfigured, match="CLINIC_TEST_NOW='next tuesday'"):
        parse_test_now("next tuesday", "America/New_York")


def test_a_process_lands_at_test_now_and_its_clock_ticks():
    shown = run_django(
        {**TEST_SETTINGS, "CLINIC_TEST_NOW": "2027-12-31T23:50"}, "shell", "-c", PRINT_NOW
    )
    assert shown.returncode == 0, shown.stderr
    landed = datetime.fromisoformat(shown.stdout.split()[-1])
    target = datetime(2028, 1, 1, 4, 50, tzinfo=UTC)  # 23:50 in New York, UTC-5
    assert target <= landed < target.replace(minute=52)


def test_a_process_started_later_lands_as_far_past_test_now_as_real_time_passed():
    # The real clock: this test may itself run under CLINIC_TEST_NOW.
    clock = time_machine.escape_hatch.time if time_machine.escape_hatch.is_travelling() else time
    started_an_hour_ago = repr(clock.time() - 3600)
    shown = run_django(
        {
            **TEST_SETTINGS,
            "CLINIC_TEST_NOW": "2028-02-29T09:00-05:00",
            "CLINIC_TEST_NOW_SINCE": started_an_hour_ago,
        },
        "shell",
        "-c",
        PRINT_NOW,
    )
    assert shown.returncode == 0, shown.stderr
    landed = datetime.fromisoformat(shown.stdout.split()[-1])
    assert (
        datetime(2028, 2, 29, 15, 0, tzinfo=UTC)
        <= landed
        < datetime(2028, 2, 29, 15, 2, tzinfo=UTC)
    )
