"""The benchmark at a tiny scale, so that it cannot rot: seed, measure, report."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from bench import run
from treatments.seed.scale import ScaleSizes, chart_patient, seed_scale

TINY = ScaleSizes(**run.SCALES["tiny"])


@pytest.fixture
def seeded(db):
    return seed_scale(TINY)


@override_settings(ROOT_URLCONF="bench.urls")
def test_the_seeded_pages_and_their_reference_answer_and_are_measured(seeded):
    assert seeded["patients.Patient"] == TINY.patients
    assert seeded["clinic.Reminder"] == TINY.reminders
    assert 0 < seeded["treatments.Appointment"] <= TINY.appointments
    assert chart_patient() is not None
    client = Client()
    client.cookies.load(run.session_cookie("dermatologist"))
    for path in [*run.pages(run.busiest_day().isoformat()).values(), "/bench/trivial/"]:
        measured = run.in_process(client, path, seconds=0.2)
        assert measured.errors == 0
        assert measured.throughput > 0
        assert run.query_count(client, path) > 0


def test_the_pages_are_measured_on_the_fullest_day_of_the_coming_week(seeded):
    from datetime import timedelta

    from django.utils import timezone

    from clinic.clock import day_bounds
    from treatments.models import Appointment

    def appointments_on(day):
        start, end = day_bounds(day)
        return Appointment.objects.filter(starts_at__gte=start, starts_at__lt=end).count()

    today = timezone.localdate()
    week = [today + timedelta(days=n) for n in range(7)]
    busiest = run.busiest_day()
    assert busiest in week
    assert appointments_on(busiest) == max(appointments_on(day) for day in week) > 0


def test_next_free_slot_and_the_sweep_are_measured_against_their_references(seeded):
    sweep, bare, due, per_batch = run.sweep_against_bare()
    assert due == TINY.due_now and sweep > 0 and bare > 0 and per_batch > 0
    slot_ms, sql_ms, queries = run.next_free_slot_against_sql(repeats=2)
    assert slot_ms > 0 and queries > 0
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN ANALYZE of the slot search's SQL needs PostgreSQL")
    assert sql_ms > 0


@pytest.mark.django_db
def test_the_report_has_a_row_per_operation(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "ROOT", tmp_path)
    (tmp_path / "bench").mkdir()
    measure = run.Measure(100.0, 5.0, 9.0)
    rows = run.page_rows({"day view": (measure, measure)}, {"day view": 6})
    run.report(rows, "tiny", 1.0)
    text = (tmp_path / "bench" / "RESULTS.md").read_text()
    assert "| day view | 100/s |" in text and "met" in text
