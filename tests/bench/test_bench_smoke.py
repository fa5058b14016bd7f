"""The benchmark at a tiny scale, so that it cannot rot: seed, measure, report."""

import os

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from bench import run
from treatments.seed.scale import ScaleSizes, chart_patient, seed_scale

from ..clinic.test_celery import database_url_of_this_test_run

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


@override_settings(ROOT_URLCONF="bench.urls")
def test_the_hot_pages_of_the_other_features_answer_and_are_measured(seeded):
    pages = run.hot_pages()

    assert len(pages) == 2
    for page in pages.values():
        client = Client(**page.client_headers)
        assert client.get(page.path).status_code == 200
        measured = run.in_process(client, page.path, seconds=0.2)
        assert measured.errors == 0 and measured.throughput > 0
        assert run.query_count(client, page.path) > 0
    fhir = pages["FHIR Slot search, free, 7 days"]
    bundle = Client(**fhir.client_headers).get(fhir.path).json()
    assert bundle["resourceType"] == "Bundle" and bundle["total"] > 0
    # Run again on the same data, it reuses the API client registered the first time.
    assert run.hot_pages().keys() == pages.keys()


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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweep_processes_are_measured_against_one_and_send_each_reminder_once():
    seed_scale(TINY)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings.test",
        "DATABASE_URL": database_url_of_this_test_run(),
    }

    against_bare, processes = run.sweep_rows(env)

    assert against_bare[0] == f"reminder sweep, {TINY.due_now} due (locmem email)"
    assert against_bare[-1].startswith("≥ 50%: ")
    assert processes[0] == f"reminder sweep, two processes vs one, {TINY.due_now} due"
    assert processes[5].endswith("×") and float(processes[5].rstrip("×")) > 0
    # Each due reminder went once, with one process and with two.
    assert processes[-1].endswith("(sent twice / not sent: one process 0 / 0, two 0 / 0)")


def test_bench_only_names_the_rows_to_measure(monkeypatch):
    monkeypatch.setenv("BENCH_ONLY", "sweep, slot")
    assert run.rows_to_measure() == {"sweep", "slot"}
    monkeypatch.setenv("BENCH_ONLY", "")
    assert run.rows_to_measure() == set(run.ROW_KEYS)
    monkeypatch.setenv("BENCH_ONLY", "sweep,pgaes")
    with pytest.raises(SystemExit, match="pgaes"):
        run.rows_to_measure()


@pytest.mark.django_db
def test_a_partial_run_leaves_the_results_file_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "ROOT", tmp_path)
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "RESULTS.md").write_text("the whole run's")
    run.report([("reminder sweep", "1/s", "", "", "", "", "", "")], "tiny", None, write=False)
    assert (tmp_path / "bench" / "RESULTS.md").read_text() == "the whole run's"


def test_a_missed_target_says_by_how_much_and_what_would_close_it():
    chart = ("chart (10 years of history)", "39/s", "", "", "", "17%", 8,
             f"≥ 35%: {run.verdict(0.17 >= 0.35, run.points(0.35 - 0.17))}")  # fmt: skip
    day = ("day view (all dermatologists)", "", "", "", "", "61%", 4,
           f"≥ 40%: {run.verdict(0.61 >= 0.40, run.points(0.40 - 0.61))}")  # fmt: skip
    new = ("a page nobody profiled", "", "", "", "", "", 1, "missed by 1 ms")

    lines = run.closers([chart, day, new])

    assert chart[-1] == "≥ 35%: missed by 18 points" and day[-1] == "≥ 40%: met"
    assert lines[0] == "## What would close the missed targets"
    assert lines[2].startswith("- **chart (10 years of history)**: In process a chart")
    assert lines[3] == "- **a page nobody profiled**: not analysed yet."
    assert not any("day view" in line for line in lines)
    assert run.closers([day]) == []


def test_each_sweep_row_finds_its_own_reason():
    one = ("reminder sweep, 10049 due (locmem email)", "missed by 25 points")
    two = ("reminder sweep, two processes vs one, 10049 due", "missed by 0.30×")

    lines = run.closers([one, two])

    assert lines[2].startswith(f"- **{one[0]}**: A profile puts about 40%")
    assert lines[3].startswith(f"- **{two[0]}**: On a machine of two cores")


def test_a_page_row_states_its_target_or_that_none_is_set():
    page, reference = run.Measure(100, 10.0, 20.0), run.Measure(400, 5.0, 8.0)
    names = ["day view (all dermatologists)", "FHIR Slot search, free, 7 days"]

    day, fhir = run.page_rows(dict.fromkeys(names, (page, reference)), dict.fromkeys(names, 3))

    assert day[5] == "25%" and day[-1] == "≥ 40%: missed by 15 points"
    assert fhir[5] == "25%" and fhir[-1] == "measured, none set (0 errors)"
