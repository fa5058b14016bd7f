"""The clinic's calendar: days, weeks and wall-clock times in the clinic's time zone.

Working hours, schedules and reminder times are wall-clock times in the clinic's zone
(`CLINIC_TIME_ZONE`), so 09:00 stays 09:00 across a daylight-saving change; a day is
23 or 25 hours long on the days the clocks change. Arithmetic on instants is done in
UTC by the callers; these helpers only cross between the two.
"""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

DAYS_IN_WEEK = 7


def local_datetime(day: date, wall_clock: time) -> datetime:
    """The instant a local wall-clock time names on a day. A time the clocks skip (02:30
    on the spring-forward day) lands an hour later; a repeated one is its first pass."""
    naive = datetime.combine(day, wall_clock)
    return timezone.make_aware(naive).astimezone(timezone.get_current_timezone())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first and last instant of a day in the clinic's time zone (23 or 25 h at DST)."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def week_of(day: date) -> list[date]:
    """The Monday to Sunday week that contains the day."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=offset) for offset in range(DAYS_IN_WEEK)]
