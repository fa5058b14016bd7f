"""The schedule's version: what keys the cached day and week pages and their ETags.

Why a cached schedule page is never stale:

1. Every write that changes what the day or week pages show bumps the version of the
   clinic days it touches (`schedule_days_changed`), or of every day
   (`schedule_changed_everywhere`: working hours, rooms, staff, names), **inside its own
   transaction**: the new version becomes visible in the same commit as the change, and
   is rolled back with it.
2. A page reads the versions (`schedule_version_of`, one query) *before* it reads the
   schedule, and keys its cached fragment and its ETag with them. A reader that sees
   the old version may read the new rows too; it then stores a fresher fragment under a
   key nobody reads after the commit. A reader that sees the new version sees the change.

The counters are upserts (`version = version + 1`), locked in the order of their days, so
two writers bumping the same days wait for each other instead of deadlocking.
"""

from collections.abc import Iterable
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import ScheduleVersion

# The counter of the changes every day shows: hours, rooms, staff, patients' names.
EVERY_DAY = date(1, 1, 1)


def _bump(days: Iterable[date]) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("The schedule's version is bumped in the writing transaction.")
    ordered = sorted(set(days))
    table = connection.ops.quote_name(ScheduleVersion._meta.db_table)
    rows = ", ".join(["(%s, 1)"] * len(ordered))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, version) VALUES {rows}"  # noqa: S608 (no input in it)
            f" ON CONFLICT (day) DO UPDATE SET version = {table}.version + 1",
            ordered,
        )


def schedule_days_changed(*moments: datetime) -> None:
    """Bump the clinic days (in the clinic's zone) of these instants: where an
    appointment starts, and started before a move."""
    _bump(timezone.localdate(moment) for moment in moments)


def schedule_changed_everywhere() -> None:
    """Bump the counter every schedule page reads: for a change that shows on any day."""
    _bump([EVERY_DAY])


def schedule_version_of(*, days: Iterable[date]) -> str:
    """The versions of these days and of every day, as one token for a cache key or an
    ETag: one query. A day nobody changed yet counts 0."""
    wanted = [EVERY_DAY, *days]
    versions = dict(ScheduleVersion.objects.filter(day__in=wanted).values_list("day", "version"))
    return ".".join(str(versions.get(day, 0)) for day in wanted)
