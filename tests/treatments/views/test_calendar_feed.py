"""A dermatologist's calendar feed (/calendar/<token>.ics): what a calendar app reads, who
may read it, and the page where the dermatologist makes or revokes its address."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from clinic.gunicorn_conf import redacted_path
from clinic.models import AccessLog, CalendarFeed, StaffMember
from clinic.services import calendar_feed_create, calendar_feed_revoke
from treatments.models import Appointment

from ...factories import (
    AppointmentFactory,
    PatientFactory,
    ProcedureTypeFactory,
    StaffMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def at(*fields) -> datetime:
    return timezone.make_aware(datetime(*fields))


# America/New_York (the test settings' clinic zone) leaves daylight-saving time on
# Sunday 1 November 2026 at 02:00: EDT is UTC-4 before, EST is UTC-5 after.
BEFORE_THE_CHANGE = at(2026, 10, 28, 8, 0)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(BEFORE_THE_CHANGE, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def fresh_fetch_counts():
    cache.clear()


@pytest.fixture
def dermatologist():
    return StaffMemberFactory(user=UserFactory(first_name="Ada", last_name="Quill"))


@pytest.fixture
def feed_url(dermatologist):
    token = calendar_feed_create(staff_member=dermatologist, by=dermatologist.user)
    return reverse("treatments:calendar_feed", args=[token])


def events_of(response) -> list:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content).walk("VEVENT")


def visit(dermatologist, starts_at, **fields) -> Appointment:
    return AppointmentFactory(dermatologist=dermatologist, starts_at=starts_at, **fields)


def test_visits_on_both_sides_of_the_daylight_saving_change_keep_their_instants(
    client, dermatologist, feed_url
):
    before = visit(dermatologist, at(2026, 10, 30, 10, 0))  # Friday 10:00 EDT
    after = visit(dermatologist, at(2026, 11, 3, 10, 0))  # Tuesday 10:00 EST

    events = {str(event["uid"]): event for event in events_of(client.get(feed_url))}

    first = events[f"appointment-{before.pk}@127.0.0.1:8000"]
    second = events[f"appointment-{after.pk}@127.0.0.1:8000"]
    assert first.decoded("dtstart") == datetime(2026, 10, 30, 14, 0, tzinfo=UTC)
    assert first.decoded("dtend") == datetime(2026, 10, 30, 14, 15, tzinfo=UTC)
    assert second.decoded("dtstart") == datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
    # Both read 10:00 on the clinic's wall clock.
    for event in (first, second):
        assert timezone.localtime(event.decoded("dtstart")).hour == 10


def test_each_event_carries_what_a_calendar_app_needs_to_keep_one_entry(
    client, dermatologist, feed_url
):
    appointment = visit(dermatologist, at(2026, 10, 29, 9, 0))
    Appointment.objects.filter(pk=appointment.pk).update(sequence=2)

    response = client.get(feed_url)
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")

    assert event["sequence"] == 2
    assert event.decoded("dtstamp") and event.decoded("last-modified")
    assert str(event["location"]) == appointment.room.name
    assert str(calendar["x-published-ttl"]) == "PT15M"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT15M" in response.content
    # The same visit gives the same bytes on the next fetch: a stable UID and DTSTAMP.
    cache.clear()
    assert client.get(feed_url).content == response.content


def test_patients_are_initials_unless_the_clinic_turns_names_on(
    client, dermatologist, feed_url, settings
):
    patient = PatientFactory(first_name="Henrietta", last_name="Vallance")
    visit(dermatologist, at(2026, 10, 29, 9, 0), patient=patient)

    (event,) = events_of(client.get(feed_url))
    assert str(event["summary"]) == "Visit: H. V."
    assert b"Henrietta" not in client.get(feed_url).content

    settings.CLINIC_CALENDAR_FEED_NAMES = True
    (event,) = events_of(client.get(feed_url))
    assert str(event["summary"]) == "Visit: Henrietta Vallance"


def test_the_feed_never_names_the_procedure_or_the_reason(client, dermatologist, feed_url):
    procedure_type = ProcedureTypeFactory(slug="de-roofing", name="Deroofing with a lancet")
    visit(
        dermatologist,
        at(2026, 10, 29, 9, 0),
        procedure_type=procedure_type,
        reason="Milia en plaque, left eyelid",
    )

    body = client.get(feed_url).content.decode()

    assert "BEGIN:VEVENT" in body
    for clinical_text in ("Deroofing", "lancet", "Milia", "eyelid", "17110"):
        assert clinical_text not in body


def test_the_feed_shows_only_this_dermatologists_visits_in_its_window(
    client, dermatologist, feed_url, settings
):
    settings.CLINIC_CALENDAR_FEED_DAYS_BACK = 7
    settings.CLINIC_CALENDAR_FEED_DAYS_AHEAD = 30
    shown = visit(dermatologist, at(2026, 10, 22, 9, 0))
    visit(dermatologist, at(2026, 10, 20, 9, 0))  # 8 days back
    visit(dermatologist, at(2026, 11, 28, 9, 0))  # 31 days ahead
    visit(StaffMemberFactory(), at(2026, 10, 29, 9, 0))  # a colleague's
    cancelled = visit(
        dermatologist,
        at(2026, 10, 30, 9, 0),
        status=Appointment.Status.CANCELLED,
        cancellation_reason="Patient called",
    )

    uids = {str(event["uid"]) for event in events_of(client.get(feed_url))}

    assert uids == {f"appointment-{shown.pk}@127.0.0.1:8000"}
    assert f"appointment-{cancelled.pk}@" not in client.get(feed_url).content.decode()


def test_a_revoked_or_replaced_address_answers_404(client, dermatologist, feed_url):
    assert client.get(feed_url).status_code == 200
    calendar_feed_revoke(staff_member=dermatologist, by=dermatologist.user)
    assert client.get(feed_url).status_code == 404

    new_token = calendar_feed_create(staff_member=dermatologist, by=dermatologist.user)
    assert client.get(feed_url).status_code == 404
    assert client.get(reverse("treatments:calendar_feed", args=[new_token])).status_code == 200
    assert client.get("/calendar/not-a-real-token.ics").status_code == 404


def test_only_the_tokens_hash_is_kept(dermatologist):
    token = calendar_feed_create(staff_member=dermatologist, by=dermatologist.user)
    stored = CalendarFeed.objects.get(staff_member=dermatologist).token_sha256
    assert len(token) >= 40 and token not in stored and len(stored) == 64


def test_a_dermatologist_who_left_has_no_feed(client, dermatologist, feed_url):
    StaffMember.objects.filter(pk=dermatologist.pk).update(is_active=False)
    assert client.get(feed_url).status_code == 404


def test_an_unchanged_feed_answers_304_to_its_etag_and_date(client, dermatologist, feed_url):
    appointment = visit(dermatologist, at(2026, 10, 29, 9, 0))
    first = client.get(feed_url)
    etag, last_modified = first["ETag"], first["Last-Modified"]

    assert client.get(feed_url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(feed_url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304

    Appointment.objects.filter(pk=appointment.pk).update(
        status=Appointment.Status.CANCELLED,
        cancellation_reason="Patient called",
        updated_at=timezone.now() + timedelta(minutes=1),
    )
    changed = client.get(feed_url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert client.get(feed_url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 200


def test_each_fetch_is_access_logged_under_the_feeds_owner_without_its_token(client, dermatologist):
    token = calendar_feed_create(staff_member=dermatologist, by=dermatologist.user)
    url = reverse("treatments:calendar_feed", args=[token])
    visit(dermatologist, at(2026, 10, 29, 9, 0))

    etag = client.get(url)["ETag"]
    client.get(url, HTTP_IF_NONE_MATCH=etag)  # 304: nothing shown, nothing logged

    (row,) = AccessLog.objects.all()
    assert row.user == dermatologist.user
    assert row.action == AccessLog.Action.CALENDAR_FEED
    assert row.patient is None
    assert token not in row.path and row.path == "/calendar/<token>.ics"
    assert row.detail == "calendar feed of Dr. Ada Quill"


def test_fetches_past_the_hourly_limit_are_refused(client, dermatologist, feed_url, settings):
    settings.CLINIC_CALENDAR_FEED_FETCHES_PER_HOUR = 2
    assert [client.get(feed_url).status_code for _ in range(3)] == [200, 200, 429]
    other = StaffMemberFactory()
    other_url = reverse(
        "treatments:calendar_feed", args=[calendar_feed_create(staff_member=other, by=other.user)]
    )
    assert client.get(other_url).status_code == 200  # the limit is per feed


def test_the_query_count_is_the_same_for_one_visit_and_a_week(
    client, dermatologist, feed_url, django_assert_num_queries
):
    visit(dermatologist, at(2026, 10, 28, 9, 0))
    # the feed and its owner, the window's visits with patient and room, the access-log row
    with django_assert_num_queries(3):
        events_of(client.get(feed_url))
    for day in range(28, 35):
        for hour in (10, 11, 12, 13, 14):
            visit(dermatologist, at(2026, 10, 1, hour, 0) + timedelta(days=day - 1))
    with django_assert_num_queries(3):
        assert len(events_of(client.get(feed_url))) == 36


def test_the_access_log_of_gunicorn_masks_the_feeds_token():
    assert redacted_path("/calendar/s3cr3t-TOKEN_x.ics") == "/calendar/<token>.ics"


# --- The dermatologist's page ----------------------------------------------------------


def test_a_dermatologist_makes_an_address_and_sees_it_only_once(dermatologist_client):
    page = dermatologist_client.get(reverse("treatments:my_calendar_feed"))
    assert "You have no feed address." in page.content.decode()

    made = dermatologist_client.post(reverse("treatments:my_calendar_feed_new"))
    assert made.status_code == 200
    url = made.context["feed_url"]
    assert url.startswith("http://testserver/calendar/") and url in made.content.decode()
    path = url.removeprefix("http://testserver")
    assert dermatologist_client.get(path).status_code == 200

    again = dermatologist_client.get(reverse("treatments:my_calendar_feed")).content.decode()
    assert "/calendar/" not in again and "was made on" in again


def test_a_dermatologist_revokes_their_address(dermatologist_client):
    made = dermatologist_client.post(reverse("treatments:my_calendar_feed_new"))
    path = made.context["feed_url"].removeprefix("http://testserver")

    revoked = dermatologist_client.post(reverse("treatments:my_calendar_feed_revoke"))

    assert revoked.status_code == 302
    assert dermatologist_client.get(path).status_code == 404
    assert not CalendarFeed.objects.exists()


def test_a_manager_makes_a_new_address_in_the_admin_and_revokes_it(manager_client):
    dermatologist = StaffMemberFactory()
    old = calendar_feed_create(staff_member=dermatologist, by=dermatologist.user)

    response = manager_client.post(
        reverse("admin:clinic_staffmember_changelist"),
        {"action": "new_calendar_feed", "_selected_action": [dermatologist.pk]},
        follow=True,
    )

    (message,) = [str(m) for m in response.context["messages"]]
    new_path = "/calendar/" + message.split("/calendar/")[1]
    assert manager_client.get(new_path).status_code == 200
    assert manager_client.get(reverse("treatments:calendar_feed", args=[old])).status_code == 404

    feed = CalendarFeed.objects.get()
    manager_client.post(
        reverse("admin:clinic_calendarfeed_delete", args=[feed.pk]), {"post": "yes"}
    )
    assert manager_client.get(new_path).status_code == 404


def test_only_dermatologists_have_a_feed(manager_client):
    receptionist = StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST)
    manager_client.post(
        reverse("admin:clinic_staffmember_changelist"),
        {"action": "new_calendar_feed", "_selected_action": [receptionist.pk]},
    )
    assert not CalendarFeed.objects.exists()


def test_the_apps_log_lines_mask_the_feeds_token():
    """Django logs a 404 as "Not Found: <path>": the console handler masks the token."""
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "%s: %s",
        ("Not Found", "/calendar/s3cr3t-TOKEN.ics"), None,
    )  # fmt: skip
    console = next(handler for handler in logging.getLogger().handlers if handler.filters)

    assert console.filter(record)
    assert record.getMessage() == "Not Found: /calendar/<token>.ics"
