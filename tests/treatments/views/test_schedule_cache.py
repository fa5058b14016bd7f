"""The day and week views keep their calendar in the cache, keyed by the schedule's version
(clinic/schedule_version.py): every write path bumps it, so the pages are never stale.

Each write test renders the page first (the cache is filled), writes through the real
service, view or admin page, renders again and finds the change. The clock is Monday
4 May 2026, 09:00 in New York; the visit is on Wednesday 6 May at 10:00.
"""

import csv
import io
import re
from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.links import Action, link_token
from clinic.models import StaffMember, TimeOff, WorkingHours
from clinic.services import patient_details_change
from treatments.models import Appointment
from treatments.services import (
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointment_complete,
    appointment_confirm,
    appointment_mark_no_show,
    appointment_reinstate,
    appointment_reschedule,
)

from ...factories import PatientFactory, RoomFactory, StaffMemberFactory, TimeOffFactory
from ..conftest import open_all_week
from ..test_admin import procedure_type_form

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 5, 4)
WEDNESDAY, THURSDAY = date(2026, 5, 6), date(2026, 5, 7)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture(autouse=True)
def clinic_in_new_york(settings):
    settings.TIME_ZONE = "America/New_York"


@pytest.fixture
def clock(db):
    with time_machine.travel(at(MONDAY, 9), tick=False) as traveller:
        yield traveller


@pytest.fixture
def room(db):
    return RoomFactory(name="Cryo room")


@pytest.fixture
def visit(clock, cryotherapy, dermatologist, room):
    """Booked by the desk for Wednesday at 10:00."""
    return appointment_book(
        patient=PatientFactory(first_name="Ada", last_name="Byron"),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=at(WEDNESDAY, 10),
        booked_by=None,
    )


def day_page(client: Client, day: date = WEDNESDAY, **headers) -> str:
    response = client.get(f"{reverse('treatments:schedule_day')}?date={day}", headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def week_page(client: Client, dermatologist: StaffMember, day: date = WEDNESDAY) -> str:
    url = reverse("treatments:schedule_week", args=[dermatologist.pk])
    response = client.get(f"{url}?date={day}")
    assert response.status_code == 200
    return response.content.decode()


def without_csrf_token(html: str) -> str:
    """The page without its CSRF token, which is masked afresh on every page."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def status_shown(html: str, appointment: Appointment) -> str | None:
    """The status a page shows for the visit (the first of its cards), or None."""
    found = re.search(rf'schedule-card-([\w-]+)[^>]*data-appointment="{appointment.pk}"', html)
    return found.group(1) if found else None


def admin_datetime(name: str, moment: datetime) -> dict[str, str]:
    local = timezone.localtime(moment)
    return {f"{name}_0": local.date().isoformat(), f"{name}_1": local.strftime("%H:%M:%S")}


# --- Bookings and moves --------------------------------------------------------------


@pytest.mark.parametrize("page", ["day", "week"])
def test_a_booking_shows_on_the_cached_page(
    receptionist_client, visit, cryotherapy, dermatologist, page
):
    def render():
        if page == "day":
            return day_page(receptionist_client)
        return week_page(receptionist_client, dermatologist)

    assert status_shown(render(), visit) == "booked"
    booked = appointment_book(
        patient=PatientFactory(),
        dermatologist=dermatologist,
        procedure_type=cryotherapy,
        starts_at=at(WEDNESDAY, 14),
        booked_by=receptionist_client.staff_member.user,
    )
    assert status_shown(render(), booked) == "booked"


def test_a_booking_through_the_booking_page_shows_on_the_cached_day(
    receptionist_client, visit, cryotherapy, dermatologist
):
    day_page(receptionist_client)
    patient, starts_at = PatientFactory(), at(WEDNESDAY, 15)
    slot = f"{dermatologist.pk}|{starts_at.astimezone(UTC).isoformat()}|{visit.room_id}"
    response = receptionist_client.post(
        reverse("treatments:appointment_book"),
        {
            "patient": patient.pk,
            "procedure_type": cryotherapy.pk,
            "dermatologist": dermatologist.pk,
            "date": WEDNESDAY.isoformat(),
            "slot": slot,
        },
    )
    assert response.status_code == 302
    booked = Appointment.objects.get(patient=patient)
    assert status_shown(day_page(receptionist_client), booked) == "booked"


def test_a_move_to_another_day_leaves_the_old_day_and_shows_on_the_new(receptionist_client, visit):
    assert status_shown(day_page(receptionist_client, WEDNESDAY), visit) == "booked"
    assert status_shown(day_page(receptionist_client, THURSDAY), visit) is None

    appointment_reschedule(appointment=visit, starts_at=at(THURSDAY, 11), by=None)

    assert status_shown(day_page(receptionist_client, WEDNESDAY), visit) is None
    assert status_shown(day_page(receptionist_client, THURSDAY), visit) == "booked"


def test_the_patients_own_move_online_shows_on_both_days(client, receptionist_client, visit):
    day_page(receptionist_client, WEDNESDAY), day_page(receptionist_client, THURSDAY)
    url = reverse(
        "treatments:patient_link",
        args=[link_token(action=Action.RESCHEDULE, subject_id=visit.pk)],
    )
    slot = f"{visit.dermatologist_id}|{at(THURSDAY, 11).isoformat()}"

    assert client.post(url, {"slot": slot}).status_code == 200

    assert status_shown(day_page(receptionist_client, WEDNESDAY), visit) is None
    assert status_shown(day_page(receptionist_client, THURSDAY), visit) == "booked"


def test_the_patients_own_cancel_online_shows(client, receptionist_client, visit):
    day_page(receptionist_client)
    url = reverse(
        "treatments:patient_link", args=[link_token(action=Action.CANCEL, subject_id=visit.pk)]
    )

    assert client.post(url).status_code == 200

    assert status_shown(day_page(receptionist_client), visit) == "cancelled"


# --- Every status action ----------------------------------------------------------------

ON_THE_DAY = at(WEDNESDAY, 10, 20)  # the visit has started: a check-in, a no-show


@pytest.mark.parametrize(
    ("now", "before", "action", "status"),
    [
        (None, [], lambda visit: appointment_confirm(appointment=visit), "confirmed"),
        (
            None,
            [],
            lambda visit: appointment_cancel(appointment=visit, reason="ill"),
            "cancelled",
        ),
        (
            None,
            [lambda visit: appointment_cancel(appointment=visit, reason="ill")],
            lambda visit: appointment_reinstate(appointment=visit, by=None),
            "booked",
        ),
        (ON_THE_DAY, [], lambda v: appointment_check_in(appointment=v, by=None), "checked_in"),
        (
            ON_THE_DAY,
            [lambda visit: appointment_check_in(appointment=visit, by=None)],
            lambda visit: appointment_complete(appointment=visit, by=None),
            "completed",
        ),
        (ON_THE_DAY, [], lambda v: appointment_mark_no_show(appointment=v, by=None), "no_show"),
    ],
    ids=["confirm", "cancel", "reinstate", "check in", "complete", "no-show"],
)  # fmt: skip
def test_each_status_action_shows_on_the_cached_page(
    receptionist_client, visit, clock, now, before, action, status
):
    if now is not None:
        clock.move_to(now)  # the day is today: its page is cached for the minute
    for step in before:
        step(visit)
    day_page(receptionist_client)

    action(visit)

    assert status_shown(day_page(receptionist_client), visit) == status


def test_the_desks_status_buttons_show_on_the_cached_page(receptionist_client, visit):
    day_page(receptionist_client)
    url = reverse("treatments:appointment_action", args=[visit.pk, "confirm"])

    assert receptionist_client.post(url).status_code == 302

    assert status_shown(day_page(receptionist_client), visit) == "confirmed"


# --- The admin and the patient's record ------------------------------------------------


def test_time_off_added_in_the_admin_shows(manager_client, receptionist_client, visit):
    dermatologist = visit.dermatologist
    assert "time-grid-time-off" not in day_page(receptionist_client)
    form = {
        "staff_member": dermatologist.pk,
        **admin_datetime("starts_at", at(WEDNESDAY, 13)),
        **admin_datetime("ends_at", at(WEDNESDAY, 15)),
        "reason": "Conference",
    }

    response = manager_client.post(reverse("admin:clinic_timeoff_add"), form)

    assert response.status_code == 302
    assert "time-grid-time-off" in day_page(receptionist_client)


def test_time_off_deleted_in_the_admin_list_shows(manager_client, receptionist_client, visit):
    time_off = TimeOffFactory(
        staff_member=visit.dermatologist, starts_at=at(WEDNESDAY, 13), ends_at=at(WEDNESDAY, 15)
    )
    assert "time-grid-time-off" in day_page(receptionist_client)

    response = manager_client.post(
        reverse("admin:clinic_timeoff_changelist"),
        {"action": "delete_selected", "_selected_action": [time_off.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not TimeOff.objects.exists()
    assert "time-grid-time-off" not in day_page(receptionist_client)


def test_working_hours_changed_in_the_admin_show(manager_client, receptionist_client, visit):
    hours = WorkingHours.objects.get(staff_member=visit.dermatologist, weekday=WEDNESDAY.weekday())
    assert "08:00–18:00" in day_page(receptionist_client)
    form = {
        "staff_member": hours.staff_member_id,
        "weekday": hours.weekday,
        "starts_at": "09:30:00",
        "ends_at": "16:00:00",
    }

    response = manager_client.post(
        reverse("admin:clinic_workinghours_change", args=[hours.pk]), form
    )

    assert response.status_code == 302
    html = day_page(receptionist_client)
    assert "09:30–16:00" in html
    assert "08:00–18:00" not in html


def test_a_room_renamed_in_the_admin_shows(manager_client, receptionist_client, visit, room):
    assert "Cryo room" in day_page(receptionist_client)
    form = {"name": "Laser room", "kind": room.kind, "is_active": "on"}

    response = manager_client.post(reverse("admin:clinic_room_change", args=[room.pk]), form)

    assert response.status_code == 302
    html = day_page(receptionist_client)
    assert "Laser room" in html
    assert "Cryo room" not in html


def test_a_procedure_type_renamed_in_the_admin_shows(manager_client, receptionist_client, visit):
    procedure_type = visit.procedure_type
    old_name = procedure_type.name
    assert old_name in day_page(receptionist_client)
    url = reverse("admin:treatments_proceduretype_change", args=[procedure_type.pk])

    response = manager_client.post(url, procedure_type_form(procedure_type, name="Cryo spray"))

    assert response.status_code == 302
    html = day_page(receptionist_client)
    assert "Cryo spray ·" in html
    assert f"{old_name} ·" not in html


def test_a_room_deleted_in_the_admin_leaves_the_day(manager_client, receptionist_client, visit):
    spare = RoomFactory(name="Spare room")
    assert "Spare room" in day_page(receptionist_client)

    response = manager_client.post(
        reverse("admin:clinic_room_delete", args=[spare.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert "Spare room" not in day_page(receptionist_client)


def test_a_dermatologist_deactivated_in_the_admin_leaves_the_day(
    manager_client, receptionist_client, visit
):
    other = open_all_week(StaffMemberFactory())
    assert f'data-dermatologist="{other.pk}"' in day_page(receptionist_client)
    form = {"role": other.role, "title": other.title, "language": "", "npi": ""}
    for inline in ("working_hours", "time_off"):
        form |= {f"{inline}-TOTAL_FORMS": "0", f"{inline}-INITIAL_FORMS": "0"}

    response = manager_client.post(
        reverse("admin:clinic_staffmember_change", args=[other.pk]), form
    )

    assert response.status_code == 302
    assert f'data-dermatologist="{other.pk}"' not in day_page(receptionist_client)


def test_a_visit_moved_in_the_admin_shows(manager_client, receptionist_client, visit):
    day_page(receptionist_client, WEDNESDAY)
    form = {
        "patient": visit.patient_id,
        "dermatologist": visit.dermatologist_id,
        "room": visit.room_id or "",
        "procedure_type": visit.procedure_type_id,
        **admin_datetime("starts_at", at(WEDNESDAY, 12)),
        **admin_datetime("ends_at", at(WEDNESDAY, 12) + (visit.ends_at - visit.starts_at)),
        "status": visit.status,
        "reason": "",
        "cancellation_reason": "",
    }
    url = reverse("admin:treatments_appointment_change", args=[visit.pk])

    assert manager_client.post(url, form).status_code == 302

    assert 'datetime="2026-05-06T12:00:00-04:00"' in day_page(receptionist_client)


@pytest.mark.parametrize("page", ["day", "week"])
def test_a_patients_new_name_shows(receptionist_client, visit, page):
    def render():
        if page == "day":
            return day_page(receptionist_client)
        return week_page(receptionist_client, visit.dermatologist)

    assert "Ada Byron" in render()

    patient_details_change(patient=visit.patient, by=None, last_name="Lovelace")

    html = render()
    assert "Ada Lovelace" in html
    assert "Ada Byron" not in html


def test_a_patient_renamed_by_a_csv_import_shows(receptionist_client, visit, tmp_path):
    patient = visit.patient
    patient.external_id = "old-system-7"
    patient.save(update_fields=["external_id"])
    manager = StaffMemberFactory(role=StaffMember.Role.MANAGER).user
    columns = {
        "external_id": patient.external_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "date_of_birth": patient.date_of_birth.isoformat(),
        "email": patient.email,
        "phone": patient.phone,
        "reminder_consent": "yes" if patient.reminder_consent else "no",
    }
    path = tmp_path / "patients.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns))
        writer.writeheader()
        writer.writerow(columns)
    assert "Ada Byron" in day_page(receptionist_client)

    call_command("import_patients", str(path), by=manager.username, stdout=io.StringIO())

    patient.refresh_from_db()
    assert patient.last_name == "Lovelace"
    html = day_page(receptionist_client)
    assert "Ada Lovelace" in html
    assert "Ada Byron" not in html


def test_the_admins_patient_import_is_the_one_that_bumps_the_schedule():
    from django.contrib import admin

    from clinic.imports import PatientImportResource
    from patients.models import Patient

    assert admin.site._registry[Patient].resource_classes == [PatientImportResource]


# --- What is cached, and for whom ------------------------------------------------------


def test_the_second_day_view_reads_only_the_version(
    receptionist_client, visit, django_assert_num_queries
):
    # session, user, staff member (role check), the versions of the day and of every
    # day; then the dermatologists with their hours, the appointments, the rooms, the
    # time off
    with django_assert_num_queries(8):
        first = day_page(receptionist_client)
    # session, user, staff member, the versions: the calendar comes from the cache
    with django_assert_num_queries(4):
        second = day_page(receptionist_client)
    assert without_csrf_token(second) == without_csrf_token(first)


def test_the_second_week_view_reads_only_the_version(
    receptionist_client, visit, django_assert_num_queries
):
    # session, user, staff member (role check), the versions of the week's days and of
    # every day; then the dermatologist with their hours, the appointments, the
    # dermatologists to switch to
    with django_assert_num_queries(7):
        first = week_page(receptionist_client, visit.dermatologist)
    # session, user, staff member, the versions: the calendar comes from the cache
    with django_assert_num_queries(4):
        second = week_page(receptionist_client, visit.dermatologist)
    assert without_csrf_token(second) == without_csrf_token(first)


def test_a_repeated_poll_with_the_etag_is_a_304_until_the_schedule_changes(
    receptionist_client, visit
):
    url = f"{reverse('treatments:schedule_day')}?date={WEDNESDAY}"
    first = receptionist_client.get(url)
    etag = first["ETag"]
    assert "private" in first["Cache-Control"]

    again = receptionist_client.get(url, headers={"if-none-match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    appointment_confirm(appointment=visit)
    changed = receptionist_client.get(url, headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert status_shown(changed.content.decode(), visit) == "confirmed"


def test_the_week_view_answers_304_to_its_etag(receptionist_client, visit):
    url = reverse("treatments:schedule_week", args=[visit.dermatologist_id])
    etag = receptionist_client.get(url)["ETag"]

    assert receptionist_client.get(url, headers={"if-none-match": etag}).status_code == 304


def test_the_htmx_swap_and_the_whole_page_have_their_own_etags(receptionist_client, visit):
    url = f"{reverse('treatments:schedule_day')}?date={WEDNESDAY}"
    whole = receptionist_client.get(url)
    swap = receptionist_client.get(url, headers={"hx-request": "true"})

    assert whole["ETag"] != swap["ETag"]
    assert b"<html" in whole.content and b"<html" not in swap.content
    assert status_shown(swap.content.decode(), visit) == "booked"


def test_another_user_gets_their_own_page_and_etag(
    receptionist_client, dermatologist_client, visit
):
    url = f"{reverse('treatments:schedule_day')}?date={WEDNESDAY}"
    desk = receptionist_client.get(url)
    # The desk's page, cached, offers the free times to book; a dermatologist's does not.
    assert "time-grid-gap" in desk.content.decode() and "data-time=" in desk.content.decode()

    clinician = dermatologist_client.get(url, headers={"if-none-match": desk["ETag"]})

    assert clinician.status_code == 200
    assert clinician["ETag"] != desk["ETag"]
    assert "data-time=" not in clinician.content.decode()
    assert clinician.context["user"] == dermatologist_client.staff_member.user


def test_another_language_gets_its_own_rendering(receptionist_client, visit):
    english = day_page(receptionist_client)
    assert "Wednesday" in english
    spanish_desk = Client()
    staff_member = StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST, language="es")
    spanish_desk.force_login(staff_member.user)

    spanish = day_page(spanish_desk)

    assert "miércoles" in spanish
    assert "Wednesday" not in spanish
    assert "Wednesday" in day_page(receptionist_client)


def test_todays_page_moves_its_now_line_with_the_clock(receptionist_client, visit, clock):
    clock.move_to(at(WEDNESDAY, 9, 0))
    assert 'data-minute="540"' in day_page(receptionist_client)

    clock.move_to(at(WEDNESDAY, 9, 1))

    assert 'data-minute="541"' in day_page(receptionist_client)


def test_a_page_with_a_message_has_no_etag(receptionist_client, visit):
    """The message shows once: a 304 must not bring it back."""
    url = reverse("treatments:appointment_action", args=[visit.pk, "confirm"])
    page = receptionist_client.post(url, follow=True)

    assert page.status_code == 200
    assert list(page.context["messages"])
    assert "ETag" not in page


def test_with_the_cache_server_down_the_page_is_drawn_without_it(
    receptionist_client, visit, settings, caplog
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }

    assert status_shown(day_page(receptionist_client), visit) == "booked"
    assert "drawn without its cache" in caplog.text
