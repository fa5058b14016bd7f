"""The manager's day-end takings (page and CSV) and the charges CSV for a billing service."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from clinic.csv_export import csv_cell
from clinic.models import AccessLog
from treatments.models import Payment
from treatments.services.billing import payment_record, payment_refund

from ...factories import PatientFactory, StaffMemberFactory
from ..services.test_billing import (  # noqa: F401 - fixtures
    checked_in,
    clinic_time,
    clock,
    consultation,
    prices,
    signed,
    today,
)
from .test_billing_documents import visit_day  # noqa: F401 - the fixture
from .test_query_counts import queries_of

pytestmark = pytest.mark.django_db
TAKINGS = reverse("treatments:takings")
TAKINGS_CSV = reverse("treatments:takings_csv")
CHARGES_CSV = reverse("treatments:charges_csv")


def rows_of(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def day_of_takings(visit_day, receptionist_client, clock):  # noqa: F811
    """The visit day's card payment of 100.00 (the receptionist), a cash payment of 50.00
    and a cash refund of 20.00 by a second receptionist, and yesterday's payment."""
    patient = visit_day["patient"]
    second = StaffMemberFactory(role="receptionist", user__first_name="Rosa")
    payment_record(patient=patient, amount="50.00", method="cash", reference="", by=second.user)
    payment_refund(
        patient=patient,
        amount="20.00",
        method="cash",
        reference="",
        reason="Paid twice",
        by=second.user,
    )
    clock.move_to(clinic_time(visit_day["day"] - timedelta(days=1), 12))
    payment_record(patient=patient, amount="5.00", method="cash", reference="", by=second.user)
    clock.move_to(clinic_time(visit_day["day"], 15, 5))  # within the session's idle time
    return {**visit_day, "second": second}


def test_the_takings_add_up_per_method_per_staff_member_and_for_the_day(
    manager_client, day_of_takings, receptionist_client
):
    day = day_of_takings["day"]
    rows = rows_of(manager_client.get(TAKINGS_CSV, {"date": day.isoformat()}))
    assert rows[0] == ["section", "name", "count", "payments", "refunds", "net_USD"]
    assert rows[1:4] == [
        ["method", "Cash", "2", "50.00", "20.00", "30.00"],
        ["method", "Card", "1", "100.00", "0.00", "100.00"],
        ["method", "Bank transfer", "0", "0.00", "0.00", "0.00"],
    ]
    by_staff = {row[1]: row[2:] for row in rows if row[0] == "staff"}
    assert by_staff[str(day_of_takings["second"])] == ["2", "50.00", "20.00", "30.00"]
    assert by_staff[str(receptionist_client.staff_member)] == ["1", "100.00", "0.00", "100.00"]
    assert rows[-1] == ["total", "", "3", "150.00", "20.00", "130.00"]

    page = manager_client.get(TAKINGS, {"date": day.isoformat()}).content.decode()
    assert 'id="takings-net">130.00<' in page
    assert "T-4471" in page and "Paid twice" not in page  # receipts listed, no reasons


def test_the_takings_csv_is_an_export_in_the_access_log(manager_client, day_of_takings):
    manager_client.get(TAKINGS_CSV, {"date": day_of_takings["day"].isoformat()})
    row = AccessLog.objects.get()
    assert (row.action, row.patient, row.user) == (
        AccessLog.Action.EXPORT,
        None,
        manager_client.staff_member.user,
    )


@pytest.mark.parametrize("date", ["2026-13-01", "tuesday"])
def test_a_bad_day_is_a_400_with_the_form(manager_client, date):
    assert manager_client.get(TAKINGS, {"date": date}).status_code == 400
    assert manager_client.get(TAKINGS_CSV, {"date": date}).status_code == 400
    assert not AccessLog.objects.exists()


def test_the_takings_page_costs_the_same_queries_for_one_payment_and_many(
    manager_client,
    visit_day,  # noqa: F811
):
    day = visit_day["day"].isoformat()
    manager_client.get(TAKINGS, {"date": day})
    # session, user, staff member (role check); the day's payments with their patients
    # and staff members
    one = queries_of(lambda: manager_client.get(TAKINGS, {"date": day}))
    for _ in range(5):
        payment_record(
            patient=visit_day["patient"],
            amount="1.00",
            method="cash",
            reference="",
            by=StaffMemberFactory(role="receptionist").user,
        )
    assert one == 4
    assert queries_of(lambda: manager_client.get(TAKINGS, {"date": day})) == one


def test_the_charges_csv_lists_codes_units_diagnoses_and_amounts(manager_client, visit_day):  # noqa: F811
    patient, day = visit_day["patient"], visit_day["day"]
    response = manager_client.get(CHARGES_CSV, {"first_day": day, "last_day": day})
    header, *lines = rows_of(response)
    found = [dict(zip(header, line, strict=True)) for line in lines]
    assert [
        (line["cpt_code"], line["modifiers"], line["units"], line["icd10_codes"], line["total"])
        for line in found
    ] == [
        ("17111", "", "1", "L72.0 L70.0", "272.19"),
        ("99213", "25", "1", "L72.0", "120.00"),
    ]
    assert {line["patient_mrn"] for line in found} == {patient.mrn}
    assert {line["rendering_npi"] for line in found} == {"1245319599"}
    assert {line["date_of_service"] for line in found} == {day.isoformat()}
    [row] = AccessLog.objects.all()
    assert (row.action, row.patient) == (AccessLog.Action.EXPORT, patient)


def test_a_cell_that_a_spreadsheet_would_run_is_made_text(manager_client, visit_day):  # noqa: F811
    patient = visit_day["patient"]
    patient.last_name = '=HYPERLINK("http://x.invalid","Lindqvist")'
    patient.first_name = '@Maya, "M"'
    patient.save()
    day = visit_day["day"]
    header, *lines = rows_of(manager_client.get(CHARGES_CSV, {"first_day": day, "last_day": day}))
    line = dict(zip(header, lines[0], strict=True))
    assert line["patient_last_name"] == '\'=HYPERLINK("http://x.invalid","Lindqvist")'
    assert line["patient_first_name"] == '\'@Maya, "M"'  # quoted and escaped by csv


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("-12.50", "-12.50"),  # a plain number is no formula
        (Decimal("-3.00"), "-3.00"),
        ("Lindqvist", "Lindqvist"),
        (None, ""),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    assert csv_cell(value) == cell


@pytest.mark.parametrize(
    "period",
    [
        {},
        {"first_day": "2026-03-10"},
        {"first_day": "2026-03-10", "last_day": "2026-03-09"},
        {"first_day": "2025-01-01", "last_day": "2026-03-10"},  # more than a year
        {"first_day": "yesterday", "last_day": "today"},
    ],
)
def test_a_bad_period_is_a_400_with_the_form(manager_client, period):
    response = manager_client.get(CHARGES_CSV, period)
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]
    assert not AccessLog.objects.exists()


def test_the_charges_csv_costs_the_same_queries_for_two_lines_and_many(
    manager_client,
    visit_day,  # noqa: F811
    dermatologist,
    cryotherapy,
    treatment_room,
):
    day = visit_day["day"]
    manager_client.get(CHARGES_CSV, {"first_day": day, "last_day": day})
    # session, user, staff member (role check); the lines with their patients,
    # dermatologists and invoices; the access-log rows (one insert)
    two = queries_of(lambda: manager_client.get(CHARGES_CSV, {"first_day": day, "last_day": day}))
    for hour in (11, 12, 13):
        signed(
            checked_in(
                PatientFactory(), dermatologist, cryotherapy, clinic_time(day, hour), treatment_room
            )
        )
    assert two == 5
    assert (
        queries_of(lambda: manager_client.get(CHARGES_CSV, {"first_day": day, "last_day": day}))
        == two
    )


@pytest.mark.parametrize(
    "name", ["treatments:takings", "treatments:takings_csv", "treatments:charges_csv"]
)
@pytest.mark.parametrize("role", ["receptionist", "dermatologist"])
def test_only_managers_see_the_reports(as_role, name, role):
    assert as_role(role).get(reverse(name)).status_code == 403


def test_a_payment_list_with_nothing_taken_says_so(manager_client):
    page = manager_client.get(TAKINGS, {"date": "2026-03-10"}).content.decode()
    assert "No payments or refunds this day." in page
    assert Payment.objects.count() == 0
