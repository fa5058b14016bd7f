"""`make bench`: each hot operation against its reference, measured in the same run.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic_bench BENCH_SCALE=small \
        .venv/bin/python bench/run.py

Creates the database if it is missing, migrates, seeds it with `seed_scale` unless it
holds the scale data already, serves the app with gunicorn (sync workers, persistent
connections) and drives it with wrk at a fixed concurrency, alternating each page with
the trivial reference page round by round; then the writes (bench/writes.py): booking
POSTs at 8 clients, half at taken slots, against pgbench inserting the same rows, and
recording a procedure on 3 lesions against the trivial page's POST. In-process
measurements (next free slot against its own SQL under EXPLAIN ANALYZE, the reminder
sweep against the bare claim-and-update) follow, then two sweep processes against one
(bench/sweep_processes.py). Last, scale-out on this machine (bench/scale_out.py): 1, 2 and 3
gunicorn instances (pages and booking), 1, 2 and 3 Celery workers on the Redis of
BENCH_REDIS_URL (the sweep). Prints the table and writes bench/RESULTS.md.

BENCH_ONLY=sweep,slot measures only those rows (ROW_KEYS) and prints them, leaving
bench/RESULTS.md as the last whole run wrote it.
"""

import base64
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/clinic_bench"
SCALES = {
    "full": {},
    "medium": {"patients": 50_000, "appointments": 300_000, "lesions": 600_000,
               "reminders": 1_000_000},
    "small": {"patients": 5_000, "appointments": 30_000, "lesions": 60_000, "reminders": 100_000},
    "tiny": {"dermatologists": 4, "patients": 60, "appointments": 300, "lesions": 300,
             "reminders": 300, "due_now": 100, "days_back": 56, "days_ahead": 28},
}  # fmt: skip
PORT = int(os.environ.get("BENCH_PORT", "8765"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
# BENCH_ONLY's keys: the pages against the trivial one, booking and recording, the next
# free slot, the reminder sweep (against the bare SQL, and two processes against one),
# more gunicorn instances and Celery workers against one.
ROW_KEYS = ("pages", "writes", "slot", "sweep", "scale")
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %f %f %f %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), summary.errors.status))
end
"""


@dataclass
class Measure:
    throughput: float  # per second
    p50_ms: float
    p95_ms: float
    errors: int = 0


def setup_django(database_url: str | None = None) -> None:
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def session_cookie(username: str) -> str:
    """A logged-in session for the user, made the way django.contrib.auth.login makes it."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The last backend is the one that loads users (a lockout backend may come first).
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def in_process(client, url: str, seconds: float, method: str = "get", data=None) -> Measure:
    """Requests through Django's test client, one after another: the smoke test's driver."""
    timings, errors = [], 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or not timings:
        started = time.perf_counter()
        response = getattr(client, method)(url, data or {})
        timings.append(time.perf_counter() - started)
        errors += response.status_code >= 500
    return _measure(timings, errors)


def _measure(timings: list[float], errors: int = 0) -> Measure:
    ordered = sorted(timings)
    return Measure(
        throughput=len(timings) / sum(timings),
        p50_ms=1000 * ordered[len(ordered) // 2],
        p95_ms=1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        errors=errors,
    )


def wrk(url: str, cookie: str, seconds: int = SECONDS, header: str | None = None) -> Measure:
    """`header` ("Name: value") in place of the session cookie: a bearer token, or nothing
    for a public page ("")."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    sent = f"Cookie: {cookie}" if header is None else header
    output = subprocess.run(
        ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "-s", script.name,
         *(["-H", sent] if sent else []), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(script.name)
    return wrk_summary(output)


def wrk_summary(output: str) -> Measure:
    """The BENCH line a wrk script of the bench prints at the end: requests, duration and
    the 50th and 95th latency percentiles (microseconds), and a count of requests that
    went wrong (here, bad statuses; bench/posts.lua: those never answered)."""
    requests, duration_us, p50, p95, wrong = re.search(
        r"BENCH (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", output
    ).groups()
    return Measure(int(requests) / (float(duration_us) / 1e6), float(p50) / 1000,
                   float(p95) / 1000, int(wrong))  # fmt: skip


def query_count(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: the session's first read, caches
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured.captured_queries)


def busiest_day():
    """The day of the coming week with the most appointments: the schedule at its fullest,
    not a quiet Sunday."""
    from datetime import timedelta

    from django.db.models import Count
    from django.db.models.functions import TruncDate
    from django.utils import timezone

    from clinic.clock import day_bounds
    from treatments.models import Appointment

    today = timezone.localdate()
    busiest = (
        Appointment.objects.filter(
            starts_at__gte=day_bounds(today)[0],
            starts_at__lt=day_bounds(today + timedelta(days=6))[1],
        )
        .annotate(day=TruncDate("starts_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(appointments=Count("pk"))
        .order_by("-appointments", "day")
        .first()
    )
    return busiest["day"] if busiest else today


def pages(day: str) -> dict[str, str]:
    """The measured pages: the day view, one week, the chart of the long-history patient."""
    from django.urls import reverse

    from clinic.models import StaffMember
    from treatments.seed.scale import chart_patient

    dermatologist = StaffMember.objects.dermatologists().order_by("pk").first()
    return {
        "day view (all dermatologists)": f"{reverse('treatments:schedule_day')}?date={day}",
        "week view (one dermatologist)": (
            f"{reverse('treatments:schedule_week', args=[dermatologist.pk])}?date={day}"
        ),
        "chart (10 years of history)": reverse(
            "treatments:patient_chart", args=[chart_patient().pk]
        ),
    }


@dataclass(frozen=True)
class HotPage:
    """A page the other features added, measured against the trivial page and reported
    without a target: how it is reached (`header`: a bearer token, or "" for a public
    page) and how its queries are counted in process."""

    path: str
    header: str
    client_headers: dict[str, str]


def hot_pages() -> dict[str, HotPage]:
    """The public booking page's free times (any dermatologist, from today) and the FHIR
    Slot search (free cryotherapy slots, 7 days). The demo's online visit types are added
    if the data has none; an API client is registered once, and its token made for the run."""
    from datetime import timedelta

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from fhir_api.models import ApiClient
    from fhir_api.services import api_client_register
    from treatments.models import ProcedureType
    from treatments.seed.demo import seed_online_booking

    if not ProcedureType.objects.filter(bookable_online=True).exists():
        seed_online_booking()
    online = ProcedureType.objects.filter(bookable_online=True).order_by("sort_order").first()
    secret = "bench-secret-not-for-production"
    if not ApiClient.objects.filter(application__client_id="bench").exists():
        api_client_register(
            name="Bench", scopes="system/Slot.rs", client_id="bench", client_secret=secret
        )
    credentials = base64.b64encode(f"bench:{secret}".encode()).decode()
    token = (
        Client()
        .post(
            reverse("fhir:token"),
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=f"Basic {credentials}",
        )
        .json()["access_token"]
    )
    today = timezone.localdate()
    slots = (
        f"{reverse('fhir:type', args=['Slot'])}?service-type=cryotherapy&status=free"
        f"&start=ge{today}&start=lt{today + timedelta(days=7)}&_count=50"
    )
    return {
        "public booking page, free times (any dermatologist)": HotPage(
            f"{reverse('portal:book_start')}?procedure_type={online.pk}", "", {}
        ),
        "FHIR Slot search, free, 7 days": HotPage(
            slots, f"Authorization: Bearer {token}", {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        ),
    }


def alternate(measure_operation, measure_reference, rounds: int) -> tuple[Measure, Measure]:
    """Operation, reference, operation, reference...; the medians of the rounds."""
    operation, reference = [], []
    for _ in range(rounds):
        operation.append(measure_operation())
        reference.append(measure_reference())
    return _median(operation), _median(reference)


def _median(measures: list[Measure]) -> Measure:
    return Measure(
        statistics.median(m.throughput for m in measures),
        statistics.median(m.p50_ms for m in measures),
        statistics.median(m.p95_ms for m in measures),
        sum(m.errors for m in measures),
    )


def verdict(met: bool, gap: str) -> str:
    """A target's status: met, or missed and by how much (`gap`)."""
    return "met" if met else f"missed by {gap}"


def points(short: float) -> str:
    """A shortfall of a ratio, in percentage points."""
    return f"{100 * short:.0f} points"


def next_free_slot_against_sql(repeats: int = 20) -> tuple[float, float, int]:
    """Median milliseconds of next_free_slot (all dermatologists, 60 days) and of its
    queries run directly, as EXPLAIN ANALYZE times them (planning and execution: what
    the server spends on them, without the round trips); and the number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from treatments.models import ProcedureType
    from treatments.selectors.availability import next_free_slot

    cryotherapy = ProcedureType.objects.get(slug="cryotherapy")
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            next_free_slot(procedure_type=cryotherapy, days=60)
        timings.append(time.perf_counter() - started)
    sql_ms = []
    if connection.vendor == "postgresql":
        for _ in range(repeats):
            total = 0.0
            with connection.cursor() as cursor:
                for query in captured.captured_queries:
                    cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
                    plan = cursor.fetchone()[0][0]
                    total += plan["Planning Time"] + plan["Execution Time"]
            sql_ms.append(total)
    sql = statistics.median(sql_ms) if sql_ms else float("nan")
    return 1000 * statistics.median(timings), sql, len(captured.captured_queries)


def due_scale_reminders() -> tuple[list[int], Callable[[], None]]:
    """The seeded email reminders due now, and a function that makes them due again
    (pending, never tried) after a sweep sent them. Email only: each message names its
    reminder in its Message-ID, so a sweep's messages can be counted per reminder (an
    SMS names none; the few due by SMS are sent by the first sweep and stay sent)."""
    from django.utils import timezone

    from clinic.models import Reminder

    now = timezone.now()
    due = list(
        Reminder.objects.filter(
            status="pending",
            next_attempt_at__lte=now,
            idempotency_key__startswith="scale:",
            channel="email",
        ).values_list("pk", flat=True)
    )

    def due_again() -> None:
        Reminder.objects.filter(pk__in=due).update(
            status="pending", next_attempt_at=now, claimed_at=None, sent_at=None, attempts=0
        )

    return due, due_again


def sweep_against_bare() -> tuple[float, float, int, int]:
    """Reminders per second of the sweep (locmem email) and of the bare claim-and-update
    over the same due rows, which are due again after each; and the sweep's queries per
    batch of CLINIC_REMINDER_BATCH_SIZE."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from clinic.models import Reminder
    from clinic.outbox import reminders_claim, reminders_deliver, reminders_send_due

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    due, due_again = due_scale_reminders()
    started = time.perf_counter()
    while ids := reminders_claim(limit=settings.CLINIC_REMINDER_BATCH_SIZE):
        Reminder.objects.filter(id__in=ids).update(
            status="sent", sent_at=timezone.now(), next_attempt_at=None
        )
    bare = len(due) / (time.perf_counter() - started)
    due_again()
    started = time.perf_counter()
    while reminders_send_due()["sent"]:
        pass
    sweep = len(due) / (time.perf_counter() - started)
    due_again()
    ids = reminders_claim(limit=settings.CLINIC_REMINDER_BATCH_SIZE)
    with CaptureQueriesContext(connection) as captured:
        reminders_deliver(ids)
    due_again()
    return sweep, bare, len(due), len(captured.captured_queries)


def sweep_rows(env: dict[str, str]) -> list[tuple]:
    """The sweep against the bare claim-and-update (in this process), and two sweep
    processes against one (bench/sweep_processes.py) over the same due reminders."""
    from bench.sweep_processes import two_processes_against_one

    sweep, bare, due, per_batch = sweep_against_bare()
    due_ids, due_again = due_scale_reminders()
    one, two = two_processes_against_one(due_ids, due_again, env=env)
    ratio, speedup = sweep / bare, two.throughput / one.throughput
    wrong = [(run.twice(), run.unsent(due_ids)) for run in (one, two)]
    met = speedup >= 1.8 and wrong == [(0, 0), (0, 0)]
    return [
        (f"reminder sweep, {due} due (locmem email)", f"{sweep:.0f}/s", "", "",
         f"bare claim + update {bare:.0f}/s", f"{ratio:.0%}", f"{per_batch} per batch",
         f"≥ 50%: {verdict(ratio >= 0.5, points(0.5 - ratio))}"),
        (f"reminder sweep, two processes vs one, {due} due", f"{two.throughput:.0f}/s", "", "",
         f"one process {one.throughput:.0f}/s", f"{speedup:.2f}×", "",
         f"≥ 1.8×, none sent twice: {verdict(met, f'{max(0, 1.8 - speedup):.2f}×')}"
         f" (sent twice / not sent: one process {wrong[0][0]} / {wrong[0][1]},"
         f" two {wrong[1][0]} / {wrong[1][1]})"),
    ]  # fmt: skip


def machine() -> str:
    from django.db import connection

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = f"{names[0]} × {len(names)}" if names else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kilobytes = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read_text()).group(1))
        memory = f"{kilobytes / 1024 / 1024:.1f} GiB RAM"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            database = f"SQLite {connection.Database.sqlite_version}"
    return f"{cpu}; {memory}; {database}; Python {platform.python_version()}"


def table(rows: list[tuple]) -> str:
    header = "| operation | throughput | p50 | p95 | reference | ratio | queries | target |"
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def page_rows(results: dict, counts: dict) -> list[tuple]:
    targets = {"day": 0.40, "week": 0.40, "chart": 0.35}
    rows = []
    for name, (operation, reference) in results.items():
        ratio = operation.throughput / reference.throughput
        target = next((value for key, value in targets.items() if name.startswith(key)), None)
        status = (
            f"measured, none set ({operation.errors} errors)"
            if target is None
            else f"≥ {target:.0%}: {verdict(ratio >= target, points(target - ratio))}"
        )
        rows.append(
            (name, f"{operation.throughput:.0f}/s", f"{operation.p50_ms:.1f} ms",
             f"{operation.p95_ms:.1f} ms",
             f"trivial view {reference.throughput:.0f}/s, p50 {reference.p50_ms:.1f} ms",
             f"{ratio:.0%}", counts[name], status)
        )  # fmt: skip
    return rows


def serve(env: dict, *, port: int = PORT, workers: int = WORKERS) -> subprocess.Popen:
    """gunicorn serving the app on `port` (sync workers), once it answers."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            # Another server would answer for ours, and be measured in its place.
            raise RuntimeError(f"port {port} is taken: set BENCH_PORT to a free one")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "clinic.wsgi:application",
         "--workers", str(workers), "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=1)
            return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
    stop(server)
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """Ask a process we started to stop, and kill it if it has not within `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_together(commands: list[list[str]], *, timeout: float) -> list[str]:
    """Start the commands at once and wait for them all; their outputs. Any still running
    at the end (one outlasted `timeout`, or another failed) is killed."""
    processes: list[subprocess.Popen] = []
    try:
        for command in commands:
            processes.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
        outputs = []
        for process in processes:
            output, errors = process.communicate(timeout=timeout)
            if process.returncode:
                raise subprocess.CalledProcessError(
                    process.returncode, process.args, output, errors
                )
            outputs.append(output)
        return outputs
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    scale = os.environ.get("BENCH_SCALE", "full")
    ensure_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.test import Client

    from bench import writes
    from treatments.seed.scale import ScaleSizes, chart_patient, seed_scale

    call_command("migrate", verbosity=0)
    seed_seconds = None
    if chart_patient() is None:
        started = time.monotonic()
        seed_scale(ScaleSizes(**SCALES[scale]), progress=True)
        seed_seconds = time.monotonic() - started
    day = busiest_day().isoformat()
    cookie = session_cookie("reception")
    clinician_cookie = session_cookie("dermatologist")
    client, clinician = Client(), Client()
    client.cookies.load(cookie)
    clinician.cookies.load(clinician_cookie)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    measured = rows_to_measure()
    results, counts, write_rows = {}, {}, []
    if measured & {"pages", "writes"}:
        server = serve(env)
        base = f"http://127.0.0.1:{PORT}"
        try:
            for name, path in pages(day).items() if "pages" in measured else []:
                who = clinician_cookie if name.startswith("chart") else cookie
                results[name] = alternate(
                    lambda path=path, who=who: wrk(base + path, who),
                    lambda who=who: wrk(base + "/bench/trivial/", who),
                    ROUNDS,
                )
                counts[name] = query_count(clinician if name.startswith("chart") else client, path)
            for name, page in hot_pages().items() if "pages" in measured else []:
                results[name] = alternate(
                    lambda page=page: wrk(base + page.path, "", header=page.header),
                    lambda: wrk(base + "/bench/trivial/", cookie),
                    ROUNDS,
                )
                counts[name] = query_count(Client(**page.client_headers), page.path)
            if "writes" in measured:
                booking = writes.wrk_driver(
                    base, cookie, connections=writes.BOOKING_CLIENTS, seconds=SECONDS
                )
                recording = writes.wrk_driver(
                    base, clinician_cookie, connections=CONNECTIONS, seconds=SECONDS
                )
                write_rows = [
                    *writes.booking_rows(
                        booking, username="reception", rounds=ROUNDS, seconds=SECONDS
                    ),
                    writes.recording_row(
                        recording, username="dermatologist", rounds=ROUNDS, seconds=SECONDS
                    ),
                ]
        finally:
            server.terminate()
            server.wait()
    rows = page_rows(results, counts)
    if "slot" in measured:
        slot_ms, sql_ms, slot_queries = next_free_slot_against_sql()
        slot_verdict = verdict(
            slot_ms <= 3 * sql_ms + 2 and slot_queries == 1,
            f"{slot_ms - 3 * sql_ms - 2:.1f} ms, {slot_queries} queries",
        )
        rows.append(
            ("next free slot, cryotherapy, all dermatologists, 60 days (in process)",
             f"{1000 / slot_ms:.0f}/s", f"{slot_ms:.1f} ms", "", f"its SQL {sql_ms:.1f} ms",
             f"{slot_ms / sql_ms:.1f}×", slot_queries,
             f"SQL ≤ 5 ms: {'met' if sql_ms <= 5 else 'missed'}; "
             f"≤ 3×SQL+2 ms, one round trip: {slot_verdict}")
        )  # fmt: skip
    if "sweep" in measured:
        rows += sweep_rows(env)
    rows += write_rows
    if "scale" in measured:
        from bench import scale_out

        rows += scale_out.scale_rows(env, day=day)
    # A partial run prints its rows and leaves the whole run's RESULTS.md as it was.
    report(rows, scale, seed_seconds, write=measured == set(ROW_KEYS))


def rows_to_measure() -> set[str]:
    """BENCH_ONLY: the rows to measure, by comma-separated keys (ROW_KEYS); all unset."""
    only = {key.strip() for key in os.environ.get("BENCH_ONLY", "").split(",") if key.strip()}
    if unknown := only - set(ROW_KEYS):
        raise SystemExit(f"BENCH_ONLY: unknown {sorted(unknown)}; the keys are {ROW_KEYS}")
    return only or set(ROW_KEYS)


# What would close each target a run can miss, from the profiles behind the figures
# (README, Performance), by the start of its row's name.
CLOSERS = {
    "day view": "The calendar is cached per schedule version; a miss means the cache is "
    "cold or the cache server down, and the page is drawn.",
    "week view": "As the day view.",
    "chart": "In process a chart takes about five times the trivial page. A profile puts "
    "about a third of it in the 8 queries (most of that building them through the ORM "
    "and reading their rows; PostgreSQL's own part is about 3 ms), a third in the "
    "template, and the rest in the access-log write, the role check and the lists. "
    "Caching the drawn timeline per patient under a record version that every write of "
    "the chart bumps, as the schedule pages are, would leave the access-log write and "
    "the parts that change.",
    "next free slot": "The statement is written once; what is left is reading the rows "
    "and comparing them in Python (a busier window reads more appointments).",
    "booking POST": "22 queries a booking (the row, its history, its event, the "
    "schedule's version, the estimate, the reminders and their keys), each built through "
    "the ORM, and the form's fields drawn and checked in Python. Not the per-day lock that "
    "keeps the two exclusion constraints from deadlocking: a run without it gave 92/s "
    "against 87/s. Writing the history and the event in the booking's own statement would "
    "close part of it. pgbench's row is the database's limit, not the target's.",
    "booking refused": "A refusal draws the booking form again, where a booking answers a "
    "redirect. Its widgets now come from Jinja2 (about 15% less in process); what is left "
    "is crispy-forms' field templates in Django's template language and their choice "
    "lists' queries. A lighter 409 for the page's htmx request, with the form kept by the "
    "browser's page, would close it.",
    "recording": "Its queries (the row's count), each built through the ORM and each a "
    "round trip: the "
    "record, its lesions and the visit each with a history row, the visit's event and "
    "schedule version, the follow-up with its history and its reminder. Writing each "
    "history row in the statement of its change would remove four.",
    "reminder sweep,": "A profile puts about 40% of a message in rendering its three "
    "templates through Django's template engine (date filters and gettext), 30% in "
    "building the MIME message with its calendar part and 15% in the database; the bare "
    "claim-and-update does only the last. Rendering the parts that are the same for "
    "every reminder of a template and language once, and only the per-reminder fields "
    "per message, would close most of it.",
    "reminder sweep, two": "On a machine of two cores the two processes share the CPU "
    "with PostgreSQL; the speed-up needs a core each.",
}


def closers(rows: list[tuple]) -> list[str]:
    """For each missed target, what would close it (CLOSERS), under a heading."""
    missed = [row for row in rows if "missed" in str(row[-1])]
    if not missed:
        return []
    lines = ["## What would close the missed targets", ""]
    for row in missed:
        name = str(row[0])
        key = max((key for key in CLOSERS if name.startswith(key)), key=len, default=None)
        lines.append(f"- **{name}**: {CLOSERS[key] if key else 'not analysed yet.'}")
    return [*lines, ""]


def report(rows, scale: str, seed_seconds: float | None, *, write: bool = True) -> None:
    from django.db.models import Count  # noqa: F401

    from clinic.models import Reminder
    from patients.models import Patient
    from treatments.models import Appointment

    sizes = (
        f"{Patient.objects.count():,} patients, {Appointment.objects.count():,} appointments, "
        f"{Reminder.objects.count():,} reminders"
    )
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Machine: {machine()}.",
            f"Data: scale `{scale}`: {sizes}."
            + (f" Seeded in {seed_seconds:.0f} s." if seed_seconds else ""),
            f"Load: wrk, {CONNECTIONS} connections, gunicorn {WORKERS} sync workers, "
            f"{ROUNDS} alternating rounds of {SECONDS} s; medians of the rounds.",
            "",
            table(rows),
            "",
            *closers(rows),
        ]
    )
    print(text)
    if write:
        (ROOT / "bench" / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
