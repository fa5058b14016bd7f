"""The patients CSV of a clinic moving in (patients/resources.py, docs/import.md): each
row's fate, its reasons, no partial row, and a re-import that changes nothing."""

import csv
import io
import time
from datetime import date, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.imports import csv_dataset, import_counts, import_fates
from clinic.models import StaffMember
from patients.models import Guardian, Patient, mrn_expression, mrn_for
from patients.resources import PatientResource

from ..factories import PatientFactory, StaffMemberFactory

pytestmark = pytest.mark.django_db

HEADER = [
    "external_id", "first_name", "last_name", "date_of_birth", "sex", "email", "phone",
    "preferred_channel", "language", "reminder_consent", "reminder_consent_date",
    "guardian_external_id", "guardian_first_name", "guardian_last_name",
    "guardian_relationship", "guardian_email", "guardian_phone",
]  # fmt: skip
NOW = timezone.make_aware(datetime(2026, 6, 1, 9, 0))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manager():
    return StaffMemberFactory(role=StaffMember.Role.MANAGER).user


def row(external_id, **values) -> dict:
    return {
        "external_id": external_id,
        "first_name": "Ann",
        "last_name": "Lee",
        "date_of_birth": "1980-02-03",
        "email": f"{external_id}@example.com",
        "reminder_consent": "no",
    } | values


def write_csv(path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)


def import_rows(tmp_path, rows, *, by, dry_run=False):
    path = tmp_path / "patients.csv"
    write_csv(path, rows)
    return PatientResource(by=by).import_data(csv_dataset(path), dry_run=dry_run)


MINOR_WITH_GUARDIAN = {
    "date_of_birth": "2020-02-03",
    "guardian_external_id": "g-1",
    "guardian_first_name": "Mae",
    "guardian_last_name": "Lee",
    "guardian_relationship": "mother",
    "guardian_email": "mae@example.com",
}


def test_each_row_has_its_fate_and_the_reasons_of_an_error(tmp_path, manager):
    PatientFactory(external_id="p-2", first_name="Bo", last_name="Old")
    result = import_rows(
        tmp_path,
        [
            row("p-1"),
            row("p-2", first_name="Bo", last_name="New"),
            row("p-3", date_of_birth="1980-13-40"),
            row("p-4", phone="12"),
            row("p-5", date_of_birth="2021-01-01"),
            row("p-6", reminder_consent="yes"),
            row("p-7", guardian_first_name="Mae"),  # an adult's guardian with no contact
            row("", first_name="No id"),
            row("p-9", date_of_birth=""),
        ],
        by=manager,
    )

    fates = import_fates(result)
    assert [(fate.number, fate.fate) for fate in fates] == [
        (1, "new"), (2, "updated"), (3, "error"), (4, "error"),
        (5, "error"), (6, "error"), (7, "error"), (8, "error"), (9, "error"),
    ]  # fmt: skip
    reasons = {fate.number: " ".join(fate.reasons) for fate in fates}
    assert "“1980-13-40” is not a date in the form YYYY-MM-DD" in reasons[3]
    assert "phone" in reasons[4] and "not valid" in reasons[4]
    assert "under 18 needs a guardian" in reasons[5]
    assert "Consent needs the date it was given" in reasons[6]
    assert "email or phone" in reasons[7]
    assert "external id" in reasons[8]
    assert "date_of_birth: This field cannot be null." in reasons[9]
    assert import_counts(result) == {"new": 1, "updated": 1, "skipped": 0, "error": 7}
    assert set(Patient.objects.values_list("external_id", flat=True)) == {"p-1", "p-2"}
    assert Patient.objects.get(external_id="p-2").last_name == "New"


def test_an_imported_patient_gets_an_mrn_and_its_history_names_the_manager(tmp_path, manager):
    import_rows(tmp_path, [row("p-1")], by=manager)

    patient = Patient.objects.get(external_id="p-1")
    assert patient.mrn == mrn_for(patient.pk)
    first_version = patient.history.get()
    assert first_version.history_user == manager
    assert first_version.mrn == patient.mrn


def test_the_mrn_in_sql_is_the_desk_s(manager):
    """The import numbers a batch in one UPDATE (mrn_expression): the same MRN as mrn_for,
    beyond seven digits too."""
    small, large = PatientFactory(id=42), PatientFactory(id=12_345_678)

    numbered = dict(
        Patient.objects.filter(pk__in=[small.pk, large.pk])
        .annotate(sql_mrn=mrn_expression())
        .values_list("pk", "sql_mrn")
    )

    assert numbered == {42: mrn_for(42), 12_345_678: mrn_for(12_345_678)}
    assert numbered[12_345_678] == "M12345678"


def test_consent_to_reminders_only_when_the_file_says_so_with_a_date(tmp_path, manager):
    import_rows(
        tmp_path,
        [row("p-1", reminder_consent="yes", reminder_consent_date="2024-03-05"), row("p-2")],
        by=manager,
    )

    given = Patient.objects.get(external_id="p-1")
    assert given.reminder_consent
    assert timezone.localdate(given.reminder_consent_changed_at) == date(2024, 3, 5)
    assert given.reminder_consent_changed_by == manager
    assert not Patient.objects.get(external_id="p-2").reminder_consent


def test_a_minor_and_their_guardian_are_written_together(tmp_path, manager):
    import_rows(tmp_path, [row("p-1", **MINOR_WITH_GUARDIAN)], by=manager)

    guardian = Guardian.objects.get(external_id="g-1")
    assert guardian.patient.external_id == "p-1"
    assert guardian.receives_reminders


def test_a_row_whose_guardian_is_refused_writes_no_patient_either(tmp_path, manager):
    result = import_rows(
        tmp_path,
        [row("p-1", **MINOR_WITH_GUARDIAN | {"guardian_email": "not an address"})],
        by=manager,
    )

    assert import_counts(result)["error"] == 1
    assert not Patient.objects.exists() and not Guardian.objects.exists()


def test_a_guardian_of_another_patient_is_refused(tmp_path, manager):
    import_rows(tmp_path, [row("p-1", **MINOR_WITH_GUARDIAN)], by=manager)
    result = import_rows(
        tmp_path, [row("p-2", **MINOR_WITH_GUARDIAN | {"first_name": "Zed"})], by=manager
    )

    (fate,) = import_fates(result)
    assert fate.fate == "error" and "another patient's" in fate.reasons[0]
    assert not Patient.objects.filter(external_id="p-2").exists()


def test_a_dry_run_writes_nothing(tmp_path, manager):
    result = import_rows(tmp_path, [row("p-1"), row("p-2")], by=manager, dry_run=True)

    assert import_counts(result)["new"] == 2
    assert not Patient.objects.exists()


def test_a_changed_guardian_updates_the_row(tmp_path, manager):
    import_rows(tmp_path, [row("p-1", **MINOR_WITH_GUARDIAN)], by=manager)
    changed = MINOR_WITH_GUARDIAN | {"guardian_email": "mae.lee@example.com"}

    (fate,) = import_fates(import_rows(tmp_path, [row("p-1", **changed)], by=manager))

    assert fate.fate == "updated"
    assert Guardian.objects.get().email == "mae.lee@example.com"


def test_an_external_id_twice_in_the_file_is_an_error_the_second_time(tmp_path, manager):
    result = import_rows(
        tmp_path,
        [row("p-1"), row("p-1", first_name="Again"), row("p-2", **MINOR_WITH_GUARDIAN),
         row("p-3", **MINOR_WITH_GUARDIAN)],
        by=manager,
    )  # fmt: skip

    fates = import_fates(result)
    assert [fate.fate for fate in fates] == ["new", "error", "new", "error"]
    assert "p-1 is in row 1 too" in fates[1].reasons[0]
    assert "Guardian g-1 is in another row too" in fates[3].reasons[0]
    assert Patient.objects.get(external_id="p-1").first_name == "Ann"
    assert set(Patient.objects.values_list("external_id", flat=True)) == {"p-1", "p-2"}


class ConcurrentImport(PatientResource):
    """Another import writes patient p-2 after this one read the file, before it writes."""

    def _read(self, dataset):
        rows = super()._read(dataset)
        PatientFactory(external_id="p-2", first_name="Other")
        return rows


def test_a_batch_the_database_refuses_is_written_row_by_row(tmp_path, manager):
    path = tmp_path / "patients.csv"
    write_csv(path, [row("p-1"), row("p-2"), row("p-3", **MINOR_WITH_GUARDIAN)])

    result = ConcurrentImport(by=manager).import_data(csv_dataset(path))

    fates = import_fates(result)
    assert [fate.fate for fate in fates] == ["new", "error", "new"]
    assert "External ID already exists" in " ".join(fates[1].reasons)
    assert import_counts(result) == {"new": 2, "updated": 0, "skipped": 0, "error": 1}
    assert Patient.objects.get(external_id="p-2").first_name == "Other"
    imported = Patient.objects.filter(external_id__in=["p-1", "p-3"])
    assert [patient.mrn == mrn_for(patient.pk) for patient in imported] == [True, True]
    assert Guardian.objects.get(external_id="g-1").patient.external_id == "p-3"
    assert Patient.history.filter(external_id__in=["p-1", "p-3"]).count() == 2


def test_a_dry_run_gives_the_fates_of_the_import(tmp_path, manager):
    PatientFactory(external_id="p-2", first_name="Bo")
    rows = [row("p-1"), row("p-2", first_name="Bo2"), row("p-3", phone="12"), row("p-1")]

    dry = import_fates(import_rows(tmp_path, rows, by=manager, dry_run=True))
    assert Patient.objects.count() == 1
    confirmed = import_fates(import_rows(tmp_path, rows, by=manager))

    assert dry == confirmed
    assert [fate.fate for fate in confirmed] == ["new", "updated", "error", "error"]


def big_file(path, *, rows: int, bad_every: int) -> list[str]:
    """`rows` patients, one in `bad_every` bad in one of four ways, a tenth of them minors
    with a guardian; returns the bad rows' external ids."""
    kinds_of_bad = [
        {"date_of_birth": "1980-02-30"},
        {"phone": "555"},
        {"date_of_birth": "2022-01-01"},  # a minor without a guardian
        {"reminder_consent": "yes"},  # no date
    ]
    records, bad = [], []
    for n in range(rows):
        values = {"first_name": f"First{n}", "last_name": f"Last{n}", "phone": ""}
        if n % 10 == 3:
            values |= MINOR_WITH_GUARDIAN | {
                "guardian_external_id": f"g-{n}",
                "guardian_email": f"g{n}@example.com",
            }
        if n % bad_every == bad_every - 1:
            values |= kinds_of_bad[(n // bad_every) % len(kinds_of_bad)]
            bad.append(f"p-{n}")
        records.append(row(f"p-{n}", **values))
    write_csv(path, records)
    return bad


def test_ten_thousand_patients_with_one_percent_bad_rows(tmp_path, manager, capsys):
    path = tmp_path / "patients.csv"
    bad = big_file(path, rows=10_000, bad_every=100)

    started = time.monotonic()
    call_command("import_patients", str(path), "--by", manager.username)
    seconds = time.monotonic() - started

    output = capsys.readouterr().out
    assert "9900 new, 0 updated, 0 unchanged, 100 in error (not imported)" in output
    assert output.count("\nrow ") + output.startswith("row ") == 100
    assert Patient.objects.count() == 9_900
    assert not Patient.objects.filter(external_id__in=bad).exists()
    assert not Guardian.objects.filter(patient__isnull=True).exists()
    assert Guardian.objects.count() == 1_000 - len([b for b in bad if int(b[2:]) % 10 == 3])
    assert not Patient.objects.filter(mrn__isnull=True).exists()

    history_rows = Patient.history.count()
    started = time.monotonic()
    call_command("import_patients", str(path), "--by", manager.username)
    again = time.monotonic() - started
    assert "0 new, 0 updated, 9900 unchanged, 100 in error" in capsys.readouterr().out
    assert Patient.history.count() == history_rows  # nothing was written
    with capsys.disabled():  # the throughput, for the record (docs/import.md)
        print(f"\n10,000 patients imported in {seconds:.1f} s: {10_000 / seconds:.0f} rows/s")
        print(f"re-import of the same file in {again:.1f} s: {10_000 / again:.0f} rows/s")


# The statements of an import of 1,000 new patients (a tenth with a guardian, in two
# batches of 500). PostgreSQL: the file's savepoint, its reads (the patients and the
# guardians it names), then per batch seven (a savepoint, the patients, their MRNs, their
# history, the guardians, theirs, the release) and the file's release. SQLite splits
# each bulk insert, and the read of the file's patients, into statements of at most 999
# parameters (some 40 patients to an insert), so its count is higher; neither makes a
# statement per row.
STATEMENTS_FOR_1000_ROWS = {"postgresql": 18, "sqlite": 71}


def test_the_statements_of_an_import_grow_with_its_batches_not_its_rows(tmp_path, manager):
    path = tmp_path / "patients.csv"
    big_file(path, rows=1_000, bad_every=1_001)
    dataset = csv_dataset(path)

    with CaptureQueriesContext(connection) as statements:
        result = PatientResource(by=manager).import_data(dataset)

    assert import_counts(result)["new"] == 1_000
    assert len(statements) == STATEMENTS_FOR_1000_ROWS[connection.vendor]


def test_the_command_dry_run_writes_nothing_and_says_so(tmp_path, manager, capsys):
    path = tmp_path / "patients.csv"
    write_csv(path, [row("p-1"), row("p-2", phone="12")])

    call_command("import_patients", str(path), "--by", manager.username, "--dry-run")

    output = capsys.readouterr().out
    assert output.startswith("row 2: phone:")
    assert "Dry run, nothing written. 2 rows" in output and "1 new" in output
    assert not Patient.objects.exists()


def test_the_command_is_made_by_a_manager_from_a_file_that_exists(tmp_path, manager):
    path = tmp_path / "patients.csv"
    write_csv(path, [row("p-1")])
    receptionist = StaffMemberFactory(role=StaffMember.Role.RECEPTIONIST).user

    with pytest.raises(CommandError, match=f"^{receptionist.username} is not an active manager"):
        call_command("import_patients", str(path), "--by", receptionist.username)
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_patients", str(tmp_path / "none.csv"), "--by", manager.username)
    assert not Patient.objects.exists()


def test_a_file_with_a_byte_order_mark_is_read(tmp_path, manager):
    path = tmp_path / "patients.csv"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=HEADER)
    writer.writeheader()
    writer.writerow(row("p-1"))
    path.write_bytes(b"\xef\xbb\xbf" + text.getvalue().encode())

    result = PatientResource(by=manager).import_data(csv_dataset(path))

    assert import_counts(result)["new"] == 1
