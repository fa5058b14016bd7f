"""The two writes of `make bench`, each against its reference in the same run.

Booking: the front desk books at 8 concurrent clients, every POST a different patient and
slot, half of the slots taken already (409 with the form's error: the app's answer to a
conflict); against the trivial view's POST at the same clients. Then free slots alone
against taken slots alone: a refusal must cost no more than a booking. pgbench inserting
the same appointment rows under the same exclusion constraints with `INSERT ... ON
CONFLICT DO NOTHING` is the physical limit, reported beside them. Afterwards no two
active appointments of one dermatologist or one room may overlap.

Recording: the dermatologist records cryotherapy on three lesions at a checked-in visit
(each POST completes its visit); against the trivial view answering a POST.

A driver sends the POSTs: wrk against gunicorn in `make bench`, Django's test client in
the tests. The rows measured are made for each round a week after the last appointment,
for patients named MARK, and deleted after the round, so every run measures the same.
"""

import itertools
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Max, QuerySet, RowRange, Window
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string

from bench import run
from clinic.models import AccessLog, Reminder, Room, StaffMember
from patients.models import Lesion, Patient
from treatments.models import (
    Appointment,
    AppointmentEvent,
    FollowUp,
    Procedure,
    ProcedureLesion,
    ProcedureType,
)

MARK = "Benchwrite"  # the last name of every patient made here: their rows are the run's
BOOKING_CLIENTS = 8
BOOKING_TARGET = 0.30  # of the trivial view's POST at the same clients
# Slots or visits prepared per second of a round: well above what each side manages on a
# small machine, so no client runs out (an idle wrk thread would count against the app,
# pgbench going round again would meet only conflicts).
BOOKING_TARGETS_PER_SECOND = 200
PGBENCH_TARGETS_PER_SECOND = 10_000
RECORDING_VISITS_PER_SECOND = 150
RECORDING_TARGET = 0.30  # of the trivial view's POST
RECORDING_QUERIES = 25
WINDOW_GAP = timedelta(days=7)  # between the last appointment and the run's own
FORM = "application/x-www-form-urlencoded"
WRK_THREADS = 2
LUA = Path(__file__).with_name("posts.lua")
# Books the targets the condition picks, as the app would (its columns, status booked); a
# target whose time is taken already is skipped: the exclusion constraints decide.
TARGETS_BOOK = """
INSERT INTO treatments_appointment
    (patient_id, dermatologist_id, room_id, procedure_type_id, starts_at, ends_at, status,
     reason, cancellation_reason, created_by_id, created_at, updated_at)
SELECT patient_id, dermatologist_id, room_id, procedure_type_id, starts_at, ends_at, 'booked',
       '', '', created_by_id, now(), now()
FROM bench_booking_target
WHERE {condition}
ON CONFLICT DO NOTHING;
"""
# Each pgbench transaction books the next target; all clients share the sequence.
PGBENCH_CONDITION = "n = (SELECT (nextval('bench_booking_target_next') - 1) % {count} + 1)"
PGBENCH_PATIENTS = 1_000  # only time, dermatologist and room matter to the constraints
RECORDING_FORM = {
    "cryo_method": "spray",
    "freeze_seconds": "5",
    "freeze_thaw_cycles": "1",
    "consent_obtained": "on",
    "consent_given_by": "patient",
    "diagnosis_code": "L72.0",
}


@dataclass(frozen=True)
class Chair:
    """A scale dermatologist with the treatment room of their column (treatments/scale.py)."""

    dermatologist: StaffMember
    room: Room


@dataclass(frozen=True)
class Target:
    """A slot to book for a patient; a taken one holds a booking already."""

    patient_id: int
    dermatologist_id: int
    room_id: int | None
    starts_at: datetime
    ends_at: datetime
    taken: bool


@dataclass(frozen=True)
class Post:
    path: str
    data: dict  # the form's fields; a list repeats its field


@dataclass
class Outcome:
    """What a driver saw: the timings, and how many answers had each status code."""

    measure: run.Measure
    statuses: Counter
    unanswered: int = 0  # connection errors and timeouts
    exhausted: bool = False  # a client ran out of requests before the time was up

    def answered(self, *codes: int) -> int:
        return sum(self.statuses[code] for code in codes)

    def failed_other_than(self, *codes: int) -> int:
        """Requests answered with another status, or not answered."""
        return sum(self.statuses.values()) - self.answered(*codes) + self.unanswered

    def failed_on_server(self) -> int:
        """Requests answered with a 5xx, or not answered."""
        return sum(n for code, n in self.statuses.items() if code >= 500) + self.unanswered


@dataclass(frozen=True)
class PgbenchRun:
    transactions: int
    throughput: float  # per second, without the connection time
    latency_ms: float  # average
    double_bookings: int = 0
    exhausted: bool = False  # went round the targets again, meeting only conflicts


class Drive(Protocol):
    """Sends POSTs: each once, or (cycle) round and round until its time is up."""

    def __call__(self, posts: list[Post], *, cycle: bool = False) -> Outcome: ...


def csrf_token() -> str:
    """A CSRF secret: sent as the cookie and as the form field, it passes Django's check."""
    return get_random_string(CSRF_SECRET_LENGTH, allowed_chars=CSRF_ALLOWED_CHARS)


def _body(post: Post, token: str) -> str:
    return urlencode({**post.data, "csrfmiddlewaretoken": token}, doseq=True)


def wrk_driver(base_url: str, session_cookie: str, *, connections: int, seconds: int) -> Drive:
    """POSTs for `seconds` through wrk at `connections` concurrent clients against the app
    served on PostgreSQL."""
    return wrk_spread_driver([base_url], session_cookie, connections=connections, seconds=seconds)


def wrk_spread_driver(
    base_urls: list[str], session_cookie: str, *, connections: int, seconds: int
) -> Drive:
    """POSTs spread over app instances served on one PostgreSQL: one wrk per instance, all
    at once, the connections split between them and each a share of the POSTs in order
    (cycle: all of them). The outcome adds up the throughputs and the statuses; its
    latencies are the slowest instance's."""
    token = csrf_token()
    cookie = f"{session_cookie}; {settings.CSRF_COOKIE_NAME}={token}"

    def drive(posts: list[Post], *, cycle: bool = False) -> Outcome:
        share = -(-len(posts) // len(base_urls))  # rounded up, as posts.lua shares lines
        files = []
        try:
            for number in range(len(base_urls)):
                mine = posts if cycle else posts[number * share : (number + 1) * share]
                with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as requests:
                    requests.writelines(f"{post.path}\t{_body(post, token)}\n" for post in mine)
                files.append(requests.name)
            commands = [
                _wrk_command(base_url, cookie, requests_file, clients, seconds, cycle)
                for base_url, requests_file, clients in zip(
                    base_urls, files, split(connections, len(base_urls)), strict=True
                )
            ]
            outputs = run.run_together(commands, timeout=seconds + 60)
        finally:
            for name in files:
                os.unlink(name)
        _wait_for_idle_database()
        return summed([_wrk_outcome(output) for output in outputs])

    return drive


def _wrk_command(
    base_url: str, cookie: str, requests: str, clients: int, seconds: int, cycle: bool
) -> list[str]:
    threads = str(min(WRK_THREADS, clients))  # wrk wants a connection per thread at least
    return ["wrk", "-t", threads, "-c", str(clients), "-d", f"{seconds}s", "--timeout", "30s",
            "-s", str(LUA), "-H", f"Cookie: {cookie}", base_url,
            "--", requests, threads, "cycle" if cycle else "once"]  # fmt: skip


def split(total: int, parts: int) -> list[int]:
    """`total` as `parts` near-equal whole shares, each at least 1: 8 over 3 is 3, 3, 2."""
    return [max(1, total // parts + (number < total % parts)) for number in range(parts)]


def summed(outcomes: list[Outcome]) -> Outcome:
    """Instances driven at once: their throughputs and statuses added up, the slowest
    instance's latencies."""
    return Outcome(
        run.Measure(
            sum(outcome.measure.throughput for outcome in outcomes),
            max(outcome.measure.p50_ms for outcome in outcomes),
            max(outcome.measure.p95_ms for outcome in outcomes),
        ),
        sum((outcome.statuses for outcome in outcomes), Counter()),
        unanswered=sum(outcome.unanswered for outcome in outcomes),
        exhausted=any(outcome.exhausted for outcome in outcomes),
    )


def _wait_for_idle_database(quiet: float = 0.5, limit: float = 60) -> None:
    """Wait until no other session of the database has been busy for `quiet` seconds.

    wrk stops at its deadline, but gunicorn still serves the requests it had accepted;
    the run's rows are deleted once they are done (bench_rows_delete copes with a request
    that outlasts this wait), and the next round starts on a quiet server.
    """
    deadline = time.monotonic() + limit
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < quiet and time.monotonic() < deadline:
        time.sleep(0.05)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                "AND state IN ('active', 'idle in transaction')"
            )
            if cursor.fetchone()[0]:
                idle_since = time.monotonic()


def _wrk_outcome(output: str) -> Outcome:
    statuses = Counter({int(code): int(n) for code, n in re.findall(r"STATUS (\d+) (\d+)", output)})
    measure = run.wrk_summary(output)
    unanswered, measure = measure.errors, replace(measure, errors=0)
    exhausted = re.search(r"EXHAUSTED 0\b", output) is None
    return Outcome(measure, statuses, unanswered, exhausted)


def in_process_driver(session_cookie: str, *, seconds: float) -> Drive:
    """The POSTs one after another through Django's test client, CSRF check on: each once,
    or (cycle) round and round for `seconds`. The tests' driver."""
    token = csrf_token()
    client = Client(enforce_csrf_checks=True)
    client.cookies.load(session_cookie)
    client.cookies[settings.CSRF_COOKIE_NAME] = token

    def drive(posts: list[Post], *, cycle: bool = False) -> Outcome:
        timings, statuses = [], Counter()
        deadline = time.perf_counter() + seconds
        for post in itertools.cycle(posts) if cycle else posts:
            if cycle and timings and time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            response = client.post(post.path, _body(post, token), content_type=FORM)
            timings.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
        return Outcome(run._measure(timings), statuses)

    return drive


def scale_chairs() -> list[Chair]:
    """The active dermatologists in seeding order, each with "Treatment room <column>"."""
    rooms = {room.name: room for room in Room.objects.filter(kind=Room.Kind.TREATMENT)}
    dermatologists = StaffMember.objects.bookable().prefetch_related("working_hours").order_by("pk")
    return [
        Chair(dermatologist, rooms[f"Treatment room {column}"])
        for column, dermatologist in enumerate(dermatologists, start=1)
        if f"Treatment room {column}" in rooms
    ]


def window_start() -> date:
    """The run's first day: a week after the last appointment, so its days are empty."""
    last = Appointment.objects.aggregate(last=Max("starts_at"))["last"] or timezone.now()
    return timezone.localdate(last + WINDOW_GAP)


def slots(chairs: list[Chair], first_day: date, length: timedelta) -> Iterator[tuple]:
    """(chair, start) back to back in each chair's working hours, day after day."""
    zone = timezone.get_current_timezone()
    for day in (first_day + timedelta(days=n) for n in itertools.count()):
        for chair in chairs:
            for block in chair.dermatologist.working_hours.all():
                if block.weekday != day.weekday():
                    continue
                start = datetime.combine(day, block.starts_at, tzinfo=zone)
                while start + length <= datetime.combine(day, block.ends_at, tzinfo=zone):
                    yield chair, start
                    start += length


def bench_patients_create(count: int) -> list[int]:
    """`count` adult patients named MARK who agreed to reminders; their ids."""
    now = timezone.now()
    patients = Patient.objects.bulk_create(
        [
            Patient(
                first_name=f"Load{n}",
                last_name=MARK,
                date_of_birth=date(1980, 1, 1),
                email=f"benchwrite{n}@example.com",
                reminder_consent=True,
                reminder_consent_changed_at=now,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    return [patient.pk for patient in patients]


def booking_targets(
    count: int, *, procedure_type: ProcedureType, patients: list[int]
) -> list[Target]:
    """`count` slots of the scale dermatologists from the run's window on, for the patients
    in turn; every second one is to be taken."""
    length = timedelta(minutes=procedure_type.duration_minutes)
    chairs_and_starts = slots(scale_chairs(), window_start(), length)
    return [
        Target(
            patient_id=patient_id,
            dermatologist_id=chair.dermatologist.pk,
            room_id=chair.room.pk if procedure_type.needs_treatment_room else None,
            starts_at=starts_at,
            ends_at=starts_at + length,
            taken=n % 2 == 1,
        )
        for n, patient_id, (chair, starts_at) in zip(
            range(count), itertools.cycle(patients), chairs_and_starts, strict=False
        )
    ]


def booking_targets_prepare(
    count: int, *, procedure_type: ProcedureType, booked_by
) -> list[Target]:
    """`count` targets, each for a patient of its own; the taken ones booked already, as if
    the desk had sent them before."""
    targets = booking_targets(
        count, procedure_type=procedure_type, patients=bench_patients_create(count)
    )
    Appointment.objects.bulk_create(
        [
            Appointment(
                patient_id=target.patient_id,
                dermatologist_id=target.dermatologist_id,
                room_id=target.room_id,
                procedure_type=procedure_type,
                starts_at=target.starts_at,
                ends_at=target.ends_at,
                created_by=booked_by,
            )
            for target in targets
            if target.taken
        ],
        batch_size=1000,
    )
    return targets


def booking_posts(targets: list[Target], procedure_type: ProcedureType) -> list[Post]:
    """The booking form as the slot picker fills it, one per target."""
    path = reverse("treatments:appointment_book")
    return [
        Post(
            f"{path}?patient={target.patient_id}",
            {
                "patient": target.patient_id,
                "procedure_type": procedure_type.pk,
                "dermatologist": target.dermatologist_id,
                "date": timezone.localdate(target.starts_at).isoformat(),
                "slot": f"{target.dermatologist_id}|{target.starts_at.isoformat()}|"
                f"{target.room_id or ''}",
            },
        )
        for target in targets
    ]


def double_bookings(*, since: datetime) -> int:
    """Active appointments from `since` on that overlap an earlier one of their
    dermatologist or of their room: what the exclusion constraints exist to prevent."""
    return sum(_overlapping_earlier(resource, since) for resource in ("dermatologist", "room"))


def _overlapping_earlier(resource: str, since: datetime) -> int:
    # An appointment overlaps one that starts before it (or with it, and was made before)
    # exactly when it starts before the latest end among those: one pass in start order.
    latest_end_before = Window(
        Max("ends_at"),
        partition_by=F(resource),
        order_by=[F("starts_at"), F("pk")],
        frame=RowRange(start=None, end=-1),
    )
    return (
        Appointment.objects.filter(
            status__in=Appointment.ACTIVE_STATUSES,
            starts_at__gte=since,
            **{f"{resource}__isnull": False},
        )
        .annotate(latest_end_before=latest_end_before)
        .filter(starts_at__lt=F("latest_end_before"))
        .count()
    )


def _delete(queryset: QuerySet) -> None:
    # One DELETE with no signals: django-simple-history would write a row per deleted row.
    queryset._raw_delete(queryset.db)


def bench_rows_delete(attempts: int = 20) -> None:
    """Delete every row made for MARK's patients, and pgbench's targets, all at once.

    A request still in flight may add rows meanwhile; the foreign keys, checked at commit,
    then refuse the whole delete (or the two deadlock), and it is tried again. Once the
    patients are gone, such a request fails instead, and leaves nothing behind.
    """
    for _ in range(attempts - 1):
        try:
            with transaction.atomic():
                _bench_rows_delete()
            return
        except (IntegrityError, OperationalError):  # OperationalError: a deadlock
            time.sleep(0.5)
    with transaction.atomic():
        _bench_rows_delete()


def _bench_rows_delete() -> None:
    patients = Patient.objects.filter(last_name=MARK).values("pk")
    for queryset in [
        FollowUp.history.filter(patient_id__in=patients),
        FollowUp.objects.filter(patient__in=patients),
        ProcedureLesion.objects.filter(procedure__patient__in=patients),
        Procedure.history.filter(patient_id__in=patients),
        Procedure.objects.filter(patient__in=patients),
        AppointmentEvent.objects.filter(appointment__patient__in=patients),
        Appointment.history.filter(patient_id__in=patients),
        Appointment.objects.filter(patient__in=patients),
        Reminder.objects.filter(patient__in=patients),
        Lesion.history.filter(patient_id__in=patients),
        Lesion.objects.filter(patient__in=patients),
        # The recording page shows the patient's alerts, so it logs its look.
        AccessLog.objects.filter(patient__in=patients),
        Patient.history.filter(last_name=MARK),
        Patient.objects.filter(last_name=MARK),
    ]:
        _delete(queryset)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_booking_target")
            cursor.execute("DROP SEQUENCE IF EXISTS bench_booking_target_next")


def _cryotherapy_and_user(username: str) -> tuple[ProcedureType, object]:
    return (
        ProcedureType.objects.get(slug="cryotherapy"),
        get_user_model().objects.get(username=username),
    )


def booking_round(drive: Drive, *, count: int, username: str) -> tuple[Outcome, int]:
    """Book `count` targets through the app, half of them taken; the outcome and the
    double bookings found afterwards. Deletes what it made."""
    cryotherapy, desk = _cryotherapy_and_user(username)
    try:
        targets = booking_targets_prepare(count, procedure_type=cryotherapy, booked_by=desk)
        outcome = drive(booking_posts(targets, cryotherapy))
        return outcome, double_bookings(since=targets[0].starts_at)
    finally:
        bench_rows_delete()


def pgbench_round(*, count: int, seconds: int, username: str) -> PgbenchRun:
    """pgbench booking `count` targets in turn at 8 clients, half of them taken; with the
    double bookings found afterwards. Deletes what it made."""
    cryotherapy, desk = _cryotherapy_and_user(username)
    try:
        patients = bench_patients_create(min(count, PGBENCH_PATIENTS))
        targets = booking_targets(count, procedure_type=cryotherapy, patients=patients)
        _pgbench_targets_fill(targets, cryotherapy, desk)
        with connection.cursor() as cursor:
            cursor.execute(TARGETS_BOOK.format(condition="taken"))
        condition = PGBENCH_CONDITION.format(count=count)
        result = _pgbench(TARGETS_BOOK.format(condition=condition), seconds)
        found = double_bookings(since=targets[0].starts_at)
        return replace(result, double_bookings=found, exhausted=result.transactions > count)
    finally:
        bench_rows_delete()


def _pgbench_targets_fill(targets: list[Target], procedure_type, booked_by) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_booking_target (n integer PRIMARY KEY, "
            "patient_id integer, dermatologist_id integer, room_id integer, "
            "procedure_type_id integer, starts_at timestamptz, ends_at timestamptz, "
            "created_by_id integer, taken boolean)"
        )
        cursor.execute("CREATE SEQUENCE bench_booking_target_next")
        with cursor.cursor.copy("COPY bench_booking_target FROM STDIN") as copy:
            for n, target in enumerate(targets, start=1):
                copy.write_row(
                    (n, target.patient_id, target.dermatologist_id, target.room_id,
                     procedure_type.pk, target.starts_at, target.ends_at, booked_by.pk,
                     target.taken)
                )  # fmt: skip
        cursor.execute("ANALYZE bench_booking_target")


def _pgbench(script: str, seconds: int) -> PgbenchRun:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script)
    try:
        output = subprocess.run(
            ["pgbench", "-n", "-c", str(BOOKING_CLIENTS), "-j", "2", "-T", str(seconds),
             "-f", file.name],
            capture_output=True, text=True, check=True, env=_libpq_environment(),
        ).stdout  # fmt: skip
    finally:
        os.unlink(file.name)
    return PgbenchRun(
        transactions=int(re.search(r"actually processed: (\d+)", output).group(1)),
        throughput=float(re.search(r"tps = ([\d.]+)", output).group(1)),
        latency_ms=float(re.search(r"latency average = ([\d.]+) ms", output).group(1)),
    )


def _libpq_environment() -> dict:
    """pgbench connects where Django does (the test database, in the tests)."""
    database = connection.settings_dict
    names = {"PGHOST": "HOST", "PGPORT": "PORT", "PGUSER": "USER", "PGPASSWORD": "PASSWORD"}
    found = {variable: str(database[key]) for variable, key in names.items() if database[key]}
    return {**os.environ, **found, "PGDATABASE": database["NAME"]}


def queries_of_post(session_cookie: str, post: Post) -> int:
    """Queries of one POST in process; a GET of the same page first warms the session."""
    client = Client()
    client.cookies.load(session_cookie)
    client.get(post.path)
    with CaptureQueriesContext(connection) as captured:
        client.post(post.path, urlencode(post.data, doseq=True), content_type=FORM)
    return len(captured.captured_queries)


def booking_queries(username: str) -> tuple[int, int]:
    """Queries of booking a free slot, and of being refused a taken one."""
    cryotherapy, desk = _cryotherapy_and_user(username)
    session_cookie = run.session_cookie(username)
    try:
        targets = booking_targets_prepare(2, procedure_type=cryotherapy, booked_by=desk)
        free, taken = [
            queries_of_post(session_cookie, post) for post in booking_posts(targets, cryotherapy)
        ]
        return free, taken
    finally:
        bench_rows_delete()


@dataclass
class BookingRuns:
    """What the booking rows report: the mixed rounds, their trivial-POST reference and
    pgbench's median round; free slots alone and taken slots alone; double bookings in all."""

    mixed: Outcome
    trivial: Outcome
    pgbench: PgbenchRun | None  # None without pgbench installed
    booked: Outcome
    refused: Outcome
    doubles: int


def booking_against_references(
    drive: Drive, *, username: str, rounds: int, seconds: int
) -> BookingRuns:
    """Round by round: the app booking (half the slots taken), the trivial view's POST at
    the same clients, pgbench on the same kind of rows; then one round of free slots only
    and one of taken slots only, so that a refusal's cost is seen apart from a booking's."""
    bench_rows_delete()  # what an interrupted run left
    count = BOOKING_TARGETS_PER_SECOND * seconds
    mixed, trivial, reference = [], [], []
    trivial_post = [Post(reverse("bench_trivial"), {})]
    doubles = 0
    for _ in range(rounds):
        outcome, found = booking_round(drive, count=count, username=username)
        mixed.append(outcome)
        doubles += found
        trivial.append(drive(trivial_post, cycle=True))
        if shutil.which("pgbench") is not None:
            reference.append(
                pgbench_round(
                    count=PGBENCH_TARGETS_PER_SECOND * seconds, seconds=seconds, username=username
                )
            )
            doubles += reference[-1].double_bookings
    booked, refused, found = booking_by_answer(drive, count=count, username=username)
    pgbench = None
    if reference:
        median = sorted(reference, key=lambda r: r.throughput)[len(reference) // 2]
        pgbench = replace(median, exhausted=any(r.exhausted for r in reference))
    return BookingRuns(
        combined(mixed), combined(trivial), pgbench, booked, refused, doubles + found
    )


def booking_by_answer(drive: Drive, *, count: int, username: str) -> tuple[Outcome, Outcome, int]:
    """A round of `count` free slots only, then one of `count` taken slots only; with the
    double bookings found after. Deletes what it made."""
    cryotherapy, desk = _cryotherapy_and_user(username)
    try:
        targets = booking_targets_prepare(2 * count, procedure_type=cryotherapy, booked_by=desk)
        posts = list(zip(booking_posts(targets, cryotherapy), targets, strict=True))
        booked = drive([post for post, target in posts if not target.taken])
        refused = drive([post for post, target in posts if target.taken])
        return booked, refused, double_bookings(since=targets[0].starts_at)
    finally:
        bench_rows_delete()


def combined(outcomes: list[Outcome]) -> Outcome:
    """The rounds' median timings, with every round's statuses counted."""
    return Outcome(
        run._median([outcome.measure for outcome in outcomes]),
        sum((outcome.statuses for outcome in outcomes), Counter()),
        unanswered=sum(outcome.unanswered for outcome in outcomes),
        exhausted=any(outcome.exhausted for outcome in outcomes),
    )


def booking_rows(drive: Drive, *, username: str, rounds: int, seconds: int) -> list[tuple]:
    """The report's rows: booking (half on taken slots) against the trivial view's POST;
    a refusal against a booking; and pgbench's inserts, the physical limit."""
    runs = booking_against_references(drive, username=username, rounds=rounds, seconds=seconds)
    free, taken = booking_queries(username)
    app, trivial = runs.mixed, runs.trivial
    ratio = app.measure.throughput / trivial.measure.throughput
    failed, unexpected = app.failed_on_server(), app.failed_other_than(302, 201, 200, 409)
    sound = not app.exhausted and unexpected == failed
    met = ratio >= BOOKING_TARGET and runs.doubles == 0 and failed == 0 and sound
    booked, refused = runs.booked.measure, runs.refused.measure
    no_slower = refused.p50_ms <= booked.p50_ms
    answers_right = (
        runs.booked.failed_other_than(302) == 0 and runs.refused.failed_other_than(409) == 0
    )
    refusal_verdict = run.verdict(
        no_slower and answers_right, f"{refused.p50_ms / booked.p50_ms - 1:.0%} of the p50"
    )
    rows = [
        (
            f"booking POST, {BOOKING_CLIENTS} clients, half on taken slots",
            f"{app.measure.throughput:.0f}/s",
            f"{app.measure.p50_ms:.1f} ms",
            f"{app.measure.p95_ms:.1f} ms",
            f"trivial view, POST {trivial.measure.throughput:.0f}/s, "
            f"p50 {trivial.measure.p50_ms:.1f} ms",
            f"{ratio:.0%}",
            f"{free} (taken slot: {taken})",
            f"≥ {BOOKING_TARGET:.0%}, no double booking, no 5xx: "
            f"{run.verdict(met, run.points(BOOKING_TARGET - ratio))} "
            f"(all rounds: {app.answered(302, 201, 200)} booked, "
            f"{app.answered(409)} × 409, {failed} × 5xx or no answer, "
            f"{unexpected - failed} other; {runs.doubles} double bookings"
            f"{_ran_out(app.exhausted)})",
        ),
        (
            f"booking refused (taken slots only), {BOOKING_CLIENTS} clients",
            f"{refused.throughput:.0f}/s",
            f"{refused.p50_ms:.1f} ms",
            f"{refused.p95_ms:.1f} ms",
            f"booked (free slots only) {booked.throughput:.0f}/s, p50 {booked.p50_ms:.1f} ms",
            f"{refused.p50_ms / booked.p50_ms:.2f}× the p50",
            taken,
            f"no slower than a booking: {refusal_verdict}"
            f" ({runs.refused.answered(409)} × 409, {runs.booked.answered(302)} booked"
            f"{_ran_out(runs.booked.exhausted or runs.refused.exhausted)})",
        ),
    ]
    if runs.pgbench is None:
        rows.append(
            (
                "pgbench INSERT … ON CONFLICT DO NOTHING",
                "not measured: no pgbench (apt-get install postgresql-client)",
                "",
                "",
                "",
                "",
                "",
                "",
            )  # fmt: skip
        )
    else:
        pgbench = runs.pgbench
        rows.append(
            (
                f"pgbench INSERT … ON CONFLICT DO NOTHING, {BOOKING_CLIENTS} clients, "
                "same rows (the physical limit)",
                f"{pgbench.throughput:.0f}/s",
                f"mean {pgbench.latency_ms:.1f} ms",
                "",
                f"the app's booking {app.measure.throughput:.0f}/s",
                f"app {app.measure.throughput / pgbench.throughput:.1%} of it",
                1,
                f"reference only ({pgbench.double_bookings} double bookings"
                f"{_ran_out(pgbench.exhausted)})",
            )
        )
    return rows


def _ran_out(exhausted: bool) -> str:
    return "; ran out of prepared targets: raise the *_PER_SECOND sizes" if exhausted else ""


def recording_visits_prepare(count: int, *, dermatologist: StaffMember) -> list[Post]:
    """`count` checked-in cryotherapy visits of the dermatologist in the run's window, each
    of a patient of its own with three active lesions; the POST that records each."""
    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    chair = next((c for c in scale_chairs() if c.dermatologist == dermatologist), None)
    if chair is None:
        raise ValueError(f"{dermatologist} has no treatment room in the scale data.")
    length = timedelta(minutes=cryotherapy.duration_minutes)
    patients = bench_patients_create(count)
    visits = Appointment.objects.bulk_create(
        [
            Appointment(
                patient_id=patient_id,
                dermatologist=dermatologist,
                room=chair.room,
                procedure_type=cryotherapy,
                starts_at=starts_at,
                ends_at=starts_at + length,
                status=Appointment.Status.CHECKED_IN,
            )
            for patient_id, (_, starts_at) in zip(
                patients, slots([chair], window_start(), length), strict=False
            )
        ],
        batch_size=1000,
    )
    lesions = _three_lesions_each(patients)
    return [
        Post(
            reverse("treatments:procedure_record", args=[visit.pk]),
            {
                **RECORDING_FORM,
                "procedure_type": cryotherapy.pk,
                "lesions": lesions[visit.patient_id],
            },
        )
        for visit in visits
    ]


def _three_lesions_each(patients: list[int]) -> dict[int, list[int]]:
    sites = [Lesion.Site.FOREHEAD, Lesion.Site.TEMPLE_LEFT, Lesion.Site.LEFT_UPPER_EYELID]
    lesions = Lesion.objects.bulk_create(
        [
            Lesion(
                patient_id=patient_id,
                site=site,
                milia_type=Lesion.MiliaType.PRIMARY,
                count=2,
                first_noted=timezone.localdate(),
            )
            for patient_id in patients
            for site in sites
        ],
        batch_size=1000,
    )
    of_patient: dict[int, list[int]] = {}
    for lesion in lesions:
        of_patient.setdefault(lesion.patient_id, []).append(lesion.pk)
    return of_patient


def recording_against_trivial(
    drive: Drive, *, dermatologist: StaffMember, rounds: int, count: int
) -> tuple[Outcome, Outcome]:
    """Recording on `count` prepared visits, then the trivial view's POST, round by round.
    The visits and all they led to are deleted after each round."""
    bench_rows_delete()  # what an interrupted run left
    operation, reference = [], []
    trivial = [Post(reverse("bench_trivial"), {})]
    for _ in range(rounds):
        try:
            posts = recording_visits_prepare(count, dermatologist=dermatologist)
            operation.append(drive(posts))
        finally:
            bench_rows_delete()
        reference.append(drive(trivial, cycle=True))
    return combined(operation), combined(reference)


def recording_queries(username: str, dermatologist: StaffMember) -> int:
    """Queries of recording one procedure on three lesions."""
    try:
        (post,) = recording_visits_prepare(1, dermatologist=dermatologist)
        return queries_of_post(run.session_cookie(username), post)
    finally:
        bench_rows_delete()


def recording_row(drive: Drive, *, username: str, rounds: int, seconds: int) -> tuple:
    """The report's row: recording on three lesions against the trivial view's POST. Every
    answer but the redirect to the new record counts as an error."""
    dermatologist = StaffMember.objects.get(user__username=username)
    operation, reference = recording_against_trivial(
        drive,
        dermatologist=dermatologist,
        rounds=rounds,
        count=RECORDING_VISITS_PER_SECOND * seconds,
    )
    queries = recording_queries(username, dermatologist)
    errors, reference_errors = operation.failed_other_than(302), reference.failed_other_than(200)
    ratio = operation.measure.throughput / reference.measure.throughput
    return (
        "recording a procedure on 3 lesions",
        f"{operation.measure.throughput:.0f}/s",
        f"{operation.measure.p50_ms:.1f} ms",
        f"{operation.measure.p95_ms:.1f} ms",
        f"trivial view, POST {reference.measure.throughput:.0f}/s, "
        f"p50 {reference.measure.p50_ms:.1f} ms",
        f"{ratio:.0%}",
        queries,
        f"≥ {RECORDING_TARGET:.0%}, ≤ {RECORDING_QUERIES} queries: "
        + run.verdict(
            ratio >= RECORDING_TARGET and queries <= RECORDING_QUERIES,
            f"{run.points(RECORDING_TARGET - ratio)}, {queries} queries",
        )
        + f" ({errors} errors, reference {reference_errors}{_ran_out(operation.exhausted)})",
    )
