"""`CLINIC_TEST_NOW`: run the test suite, and the worker processes it starts, at another
instant, with the clock ticking from there.

    CLINIC_TEST_NOW=2027-03-14T08:30 make test

A value without an offset is the clinic's wall-clock time (`CLINIC_TIME_ZONE`). The first
process that loads the test settings records the real instant it started travelling in
`CLINIC_TEST_NOW_SINCE`; a process started later (a Celery worker under test) inherits it
and lands as far past the target as real time has passed, so every process of one run
reads the same clock. Only the test settings call this: time-machine is a dev dependency.
"""

import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ImproperlyConfigured


def parse_test_now(value: str, time_zone: str) -> datetime:
    """The aware instant that `CLINIC_TEST_NOW` names; a naive value is clinic time."""
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"CLINIC_TEST_NOW={value!r} is not an ISO 8601 date and time "
            "(for example 2027-03-14T08:30)."
        ) from error
    if instant.tzinfo is None:
        # fold=0: an ambiguous wall-clock time (the repeated hour in autumn) is the first one.
        instant = instant.replace(tzinfo=ZoneInfo(time_zone))
    return instant


def travel_from_environment(time_zone: str) -> datetime | None:
    """Start travelling when `CLINIC_TEST_NOW` is set; returns where this process landed."""
    value = os.environ.get("CLINIC_TEST_NOW", "").strip()
    if not value:
        return None
    import time_machine

    target = parse_test_now(value, time_zone)
    since = float(os.environ.setdefault("CLINIC_TEST_NOW_SINCE", repr(time.time())))
    landed = datetime.fromtimestamp(target.timestamp() + (time.time() - since), target.tzinfo)
    time_machine.travel(landed, tick=True).start()
    return landed
