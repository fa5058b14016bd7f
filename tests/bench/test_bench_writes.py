"""The benchmark's writes at the tiny scale, in process: booking with half the slots taken,
recording on three lesions, each against its reference, and nothing left behind."""

import shutil
from collections import Counter
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from bench import run, writes
from clinic.models import ScheduleVersion, StaffMember
from treatments.constraints import DERMATOLOGIST_OVERLAP
from treatments.models import Appointment, AppointmentEvent, Procedure, ProcedureType
from treatments.seed.scale import ScaleSizes, seed_scale

TINY = ScaleSizes(**run.SCALES["tiny"])

pytestmark = pytest.mark.usefixtures("bench_urls")


@pytest.fixture
def bench_urls():
    with override_settings(ROOT_URLCONF="bench.urls"):
        yield


@pytest.fixture
def seeded(db):
    return seed_scale(TINY)


@pytest.fixture
def cryotherapy(seeded):
    return ProcedureType.objects.get(slug="cryotherapy")


@pytest.fixture
def desk(seeded):
    return get_user_model().objects.get(username="reception")


@pytest.fixture
def dermatologist(seeded):
    return StaffMember.objects.get(user__username="dermatologist")


def in_process(username: str) -> writes.Drive:
    return writes.in_process_driver(run.session_cookie(username), seconds=0.3)


def rows_per_table() -> dict[str, int]:
    """Rows per table, but the schedule's version counters: a booking bumps its day's, and
    a counter is never deleted (a day's version must never repeat, or a page cached under
    an old version would be shown again; clinic/schedule_version.py)."""
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model is not ScheduleVersion
    }


def test_the_taken_half_of_the_targets_is_refused_and_the_free_half_booked(cryotherapy, desk):
    targets = writes.booking_targets_prepare(8, procedure_type=cryotherapy, booked_by=desk)

    outcome = in_process("reception")(writes.booking_posts(targets, cryotherapy))

    assert outcome.statuses == Counter({302: 4, 409: 4})
    assert [t.taken for t in targets] == [False, True] * 4
    for target in targets:
        # The taken ones keep their earlier booking; the free ones got one from the app,
        # which alone writes the appointment's history of events.
        (appointment,) = Appointment.objects.filter(patient_id=target.patient_id)
        assert appointment.starts_at == target.starts_at
        assert appointment.dermatologist_id == target.dermatologist_id
        assert appointment.room_id == target.room_id  # cryotherapy needs a treatment room
        assert target.room_id is not None
        booked_by_the_app = AppointmentEvent.objects.filter(appointment=appointment).exists()
        assert booked_by_the_app is not target.taken
    assert writes.double_bookings(since=targets[0].starts_at) == 0


def test_a_taken_target_is_answered_409_with_the_form_error(cryotherapy, desk):
    free, taken = writes.booking_posts(
        writes.booking_targets_prepare(2, procedure_type=cryotherapy, booked_by=desk), cryotherapy
    )
    client = Client()
    client.cookies.load(run.session_cookie("reception"))

    response = client.post(taken.path, taken.data)

    assert response.status_code == 409
    assert "is already booked at" in response.content.decode()


def test_the_run_window_lies_after_every_seeded_appointment(cryotherapy, desk):
    last_seeded = Appointment.objects.order_by("-starts_at").first().ends_at

    (target,) = writes.booking_targets_prepare(1, procedure_type=cryotherapy, booked_by=desk)

    assert target.starts_at - last_seeded >= timedelta(days=6)


def overlap_rule_dropped() -> None:
    """Let an overlapping pair in; the test's transaction brings the rule back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The deferred foreign-key checks of the rows made so far run first; ALTER
            # TABLE refuses to run with them pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                f"ALTER TABLE treatments_appointment DROP CONSTRAINT {DERMATOLOGIST_OVERLAP}"
            )
        else:
            cursor.execute(f"DROP TRIGGER {DERMATOLOGIST_OVERLAP}_insert")


def test_double_bookings_are_found_when_the_rules_let_one_in(cryotherapy, desk):
    first, second = writes.booking_targets_prepare(2, procedure_type=cryotherapy, booked_by=desk)
    assert writes.double_bookings(since=first.starts_at) == 0
    overlap_rule_dropped()
    Appointment.objects.create(
        patient_id=first.patient_id,
        dermatologist_id=second.dermatologist_id,
        procedure_type=cryotherapy,
        starts_at=second.starts_at + timedelta(minutes=5),
        ends_at=second.ends_at + timedelta(minutes=5),
    )

    assert writes.double_bookings(since=first.starts_at) == 1


def test_each_recording_post_records_a_procedure_on_three_lesions(dermatologist):
    posts = writes.recording_visits_prepare(3, dermatologist=dermatologist)

    outcome = in_process("dermatologist")(posts)

    assert outcome.statuses == Counter({302: 3})
    procedures = Procedure.objects.filter(patient__last_name=writes.MARK)
    assert procedures.count() == 3
    for procedure in procedures:
        assert procedure.dermatologist == dermatologist
        assert procedure.appointment.status == Appointment.Status.COMPLETED
        assert sorted(procedure.lesions.values_list("pk", flat=True)) == sorted(
            procedure.patient.lesions.values_list("pk", flat=True)
        )
        assert procedure.lesions.count() == 3


def test_the_rounds_leave_no_row_behind(dermatologist):
    booking, recording = in_process("reception"), in_process("dermatologist")
    before = rows_per_table()

    outcome, doubles = writes.booking_round(booking, count=6, username="reception")
    recorded, trivial = writes.recording_against_trivial(
        recording, dermatologist=dermatologist, rounds=1, count=2
    )

    assert outcome.statuses == Counter({302: 3, 409: 3}) and doubles == 0
    assert recorded.statuses == Counter({302: 2})
    assert trivial.statuses[200] > 0 and trivial.failed_other_than(200) == 0
    assert rows_per_table() == before


def test_the_recording_row_fits_the_report(dermatologist, monkeypatch):
    monkeypatch.setattr(writes, "RECORDING_VISITS_PER_SECOND", 2)

    row = writes.recording_row(
        in_process("dermatologist"), username="dermatologist", rounds=1, seconds=1
    )

    assert len(row) == 8 and row[0] == "recording a procedure on 3 lesions"
    assert row[6] > 0  # queries of one recording
    assert row[6] <= writes.RECORDING_QUERIES
    assert row[7].startswith("≥ 30%, ≤ 25 queries: ") and "(0 errors, reference 0" in row[7]
    assert "| recording a procedure on 3 lesions |" in run.table([row])
    assert not Procedure.objects.filter(patient__last_name=writes.MARK).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_booking_rows_measure_the_trivial_post_a_refusal_and_pgbench(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("pgbench and the exclusion constraints need PostgreSQL")
    if shutil.which("pgbench") is None:
        pytest.skip("pgbench is not installed (Debian: postgresql-client)")
    seed_scale(TINY)
    monkeypatch.setattr(writes, "BOOKING_TARGETS_PER_SECOND", 6)
    before = rows_per_table()

    mixed, refusal, pgbench = writes.booking_rows(
        in_process("reception"), username="reception", rounds=1, seconds=1
    )

    assert mixed[0] == "booking POST, 8 clients, half on taken slots"
    assert mixed[4].startswith("trivial view, POST ")
    assert (
        "(all rounds: 3 booked, 3 × 409, 0 × 5xx or no answer, 0 other; 0 double bookings)"
        in mixed[7]
    )
    assert refusal[0] == "booking refused (taken slots only), 8 clients"
    assert refusal[4].startswith("booked (free slots only) ")
    assert "(6 × 409, 6 booked)" in refusal[7]  # each half as many as the mixed round
    assert pgbench[0].startswith("pgbench INSERT … ON CONFLICT DO NOTHING, 8 clients")
    assert pgbench[7] == "reference only (0 double bookings)"
    assert all("ran out" not in row[7] for row in (mixed, refusal))
    assert {k: v for k, v in rows_per_table().items() if k != "sessions.Session"} == {
        k: v for k, v in before.items() if k != "sessions.Session"
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_wrk_books_through_the_served_app_with_the_csrf_token(live_server):
    if connection.vendor != "postgresql":
        pytest.skip("the wrk driver waits for the requests in flight through pg_stat_activity")
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian: wrk)")
    seed_scale(TINY)
    drive = writes.wrk_driver(
        live_server.url, run.session_cookie("reception"), connections=8, seconds=3
    )
    before = rows_per_table()

    outcome, doubles = writes.booking_round(drive, count=60, username="reception")

    assert outcome.answered(302) > 0 and outcome.answered(409) > 0
    assert outcome.failed_other_than(302, 409) == 0
    assert doubles == 0
    assert outcome.measure.throughput > 0 and outcome.measure.p95_ms >= outcome.measure.p50_ms
    assert rows_per_table() == before
