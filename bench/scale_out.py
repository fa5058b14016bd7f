"""Past one server, on one machine: more web instances and more Celery workers against one
PostgreSQL (issue #18).

Web: 1, 2 and 3 gunicorn instances of one sync worker each, on ports from BENCH_PORT + 10
up, driven at once by one wrk per instance, the connections of `make bench` split between
them; their throughputs add up. The day view and the chart are measured with the trivial
page as the reference, then booking POSTs spread over the instances, half on taken slots
(bench/writes.py's targets, posts.lua and clean-up), after which the double bookings are
counted in the database.

Workers: 1, 2 and 3 `celery -A clinic worker --pool solo` processes on the Redis of
BENCH_REDIS_URL, each handed one reminders_send_due task over the seeded due reminders
(made due again each run); a task sweeps until nothing is due, so one each lets them all
sweep at once. Email goes to files (bench/worker_settings.py); every message's Message-ID
says which reminder it was for, so reminders sent twice and not sent are counted.

On a machine of few cores the instances, the workers, wrk and PostgreSQL share the CPU:
more instances than cores measure contention, not scale-out; the rows say so.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import run, writes
from bench.sweep_processes import MESSAGE_ID, SweepRun

COUNTS = (1, 2, 3)
FIRST_PORT = run.PORT + 10
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
TASK = "clinic.tasks.reminders_send_due"
# A long header is folded onto the next line, hence \s+.
MESSAGE_ID_HEADER = re.compile(r"^Message-ID:\s+(<[^>]+>)", re.MULTILINE)
TASK_ENDED = re.compile(rf"Task {re.escape(TASK)}\[[^]]+\] (succeeded|raised)")
STARTUP_SECONDS = 60
SWEEP_LIMIT_SECONDS = 600
# As `make run` starts one, one task at a time; INFO logs say when it is ready and when
# each task ended.
CELERY_WORKER = [
    sys.executable, "-m", "celery", "-A", "clinic", "worker", "--concurrency", "1",
    "--pool", "solo", "--loglevel", "INFO",
    "--without-gossip", "--without-mingle", "--without-heartbeat",
]  # fmt: skip


@dataclass
class WebRun:
    """What one count of instances measured."""

    instances: int
    pages: dict[str, run.Measure]  # page name: all instances at once
    booking: writes.Outcome
    double_bookings: int


@contextmanager
def web_instances(count: int, env: dict[str, str]) -> Iterator[list[str]]:
    """`count` gunicorn instances of one sync worker each; their base URLs. Stopped on
    leaving, whatever happened."""
    servers: list[subprocess.Popen] = []
    try:
        for number in range(count):
            servers.append(run.serve(env, port=FIRST_PORT + number, workers=1))
        yield [f"http://127.0.0.1:{FIRST_PORT + number}" for number in range(count)]
    finally:
        for server in servers:
            run.stop(server)


def together(base_urls: list[str], path: str, cookie: str, seconds: int) -> run.Measure:
    """GETs of `path` on every instance at once, one wrk each, run.CONNECTIONS split between
    them: the throughputs added up, the slowest instance's latencies."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(run.WRK_SCRIPT)
    try:
        commands = [
            ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds}s",
             "-s", script.name, "-H", f"Cookie: {cookie}", base_url + path]
            for base_url, clients in zip(
                base_urls, writes.split(run.CONNECTIONS, len(base_urls)), strict=True
            )
        ]  # fmt: skip
        outputs = run.run_together(commands, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    measures = [run.wrk_summary(output) for output in outputs]
    return run.Measure(
        sum(measure.throughput for measure in measures),
        max(measure.p50_ms for measure in measures),
        max(measure.p95_ms for measure in measures),
        sum(measure.errors for measure in measures),
    )


def warm(base_urls: list[str], path: str, cookie: str) -> None:
    """One GET per instance first: each process fills its own schedule cache."""
    for base_url in base_urls:
        request = urllib.request.Request(base_url + path, headers={"Cookie": cookie})
        urllib.request.urlopen(request, timeout=30).read()


def web_run(
    count: int, env: dict[str, str], pages: dict[str, tuple[str, str]], *, rounds: int,
    seconds: int,
) -> WebRun:  # fmt: skip
    """`count` instances: each page (path, cookie) in turn for `rounds` rounds (medians),
    then one booking round spread over the instances."""
    with web_instances(count, env) as base_urls:
        for path, cookie in pages.values():
            warm(base_urls, path, cookie)
        measured: dict[str, list[run.Measure]] = {name: [] for name in pages}
        for _ in range(rounds):
            for name, (path, cookie) in pages.items():
                measured[name].append(together(base_urls, path, cookie, seconds))
        drive = writes.wrk_spread_driver(
            base_urls,
            run.session_cookie("reception"),
            connections=writes.BOOKING_CLIENTS,
            seconds=seconds,
        )
        booking, doubles = writes.booking_round(
            drive, count=writes.BOOKING_TARGETS_PER_SECOND * seconds, username="reception"
        )
    medians = {name: run._median(measures) for name, measures in measured.items()}
    return WebRun(count, medians, booking, doubles)


@dataclass
class Workers:
    processes: list[subprocess.Popen]
    logs: list[Path]

    def wait_for(self, condition: Callable[[], bool], *, timeout: float) -> None:
        """Until `condition` holds; a worker that stops, or the time running out, raises."""
        deadline = time.monotonic() + timeout
        while not condition():
            for worker, log in zip(self.processes, self.logs, strict=True):
                if worker.poll() is not None:
                    raise RuntimeError(f"a Celery worker stopped:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Celery workers were not done within {timeout:.0f} s")
            time.sleep(0.05)

    def tasks_ended(self) -> int:
        return sum(len(TASK_ENDED.findall(log.read_text())) for log in self.logs)


@contextmanager
def celery_workers(
    count: int, env: dict[str, str], *, broker_url: str, settings: str, folder: Path
) -> Iterator[Workers]:
    """`count` Celery worker processes (solo pool, one task at a time), email to files in
    `folder`/mail, once every worker says it is ready. Stopped on leaving, whatever happened."""
    worker_env = {
        **env,
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "bench.worker_settings",
        "BENCH_WORKER_SETTINGS": settings,
        "BENCH_MAIL_DIR": str(folder / "mail"),
    }
    workers = Workers([], [folder / f"worker{number}.log" for number in range(count)])
    with ExitStack() as stack:
        try:
            for number, log in enumerate(workers.logs):
                output = stack.enter_context(log.open("w"))
                command = [*CELERY_WORKER, "--hostname", f"scale{number}@%h"]
                workers.processes.append(
                    subprocess.Popen(
                        command,
                        cwd=run.ROOT,
                        env=worker_env,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
            workers.wait_for(
                lambda: all(" ready." in log.read_text() for log in workers.logs),
                timeout=STARTUP_SECONDS,
            )
            yield workers
        finally:
            for worker in workers.processes:
                run.stop(worker)


def sweep_with_workers(
    count: int, due: list[int], due_again: Callable[[], None], *, env: dict[str, str],
    broker_url: str, settings: str,
) -> SweepRun:  # fmt: skip
    """The due reminders (due again first) swept by `count` Celery workers, one task each
    (again while any is still due: a task stops sweeping after outbox.SWEEP_SECONDS);
    timed from queuing the first task to the end of the last."""
    from celery import Celery

    from clinic.models import Reminder

    due_again()
    still_due = Reminder.objects.filter(pk__in=due, status=Reminder.Status.PENDING)
    with tempfile.TemporaryDirectory() as folder, Celery("bench", broker=broker_url) as sender:
        sender.control.purge()  # what an interrupted run left queued
        (Path(folder) / "mail").mkdir()
        with celery_workers(
            count, env, broker_url=broker_url, settings=settings, folder=Path(folder)
        ) as workers:
            started = time.monotonic()
            queued = 0

            def all_ended() -> bool:
                return workers.tasks_ended() >= queued

            while queued == 0 or still_due.exists():
                for _ in range(count):
                    sender.send_task(TASK)
                queued += count
                workers.wait_for(all_ended, timeout=SWEEP_LIMIT_SECONDS)
            seconds = time.monotonic() - started
        messages = messages_per_reminder(Path(folder) / "mail")
    due_again()
    return SweepRun(count, len(due) / seconds, messages)


def messages_per_reminder(folder: Path) -> Counter[int]:
    """The messages the file backend wrote, per reminder (the id in each Message-ID)."""
    return Counter(
        int(found[1])
        for file in folder.iterdir()
        for header in MESSAGE_ID_HEADER.findall(file.read_text())
        if (found := MESSAGE_ID.search(header))
    )


def cores_note(count: int) -> str:
    cores = os.cpu_count() or 1
    return f"; {count} on {cores} cores share the CPU" if count > cores else ""


def web_rows(runs: list[WebRun]) -> list[tuple]:
    """A row per page and count of instances, and per count of instances for booking; each
    against the first count measured."""
    first = runs[0]
    rows = []
    for name in first.pages:
        for measured in runs:
            page, reference = measured.pages[name], first.pages[name]
            rows.append(
                (f"{name}, {_instances(measured.instances)} of 1 sync worker",
                 f"{page.throughput:.0f}/s",
                 f"{page.p50_ms:.1f} ms", f"{page.p95_ms:.1f} ms",
                 f"{_instances(first.instances)} {reference.throughput:.0f}/s",
                 f"{page.throughput / reference.throughput:.2f}×", "",
                 f"none: measured ({page.errors} errors{cores_note(measured.instances)})")
            )  # fmt: skip
    for measured in runs:
        booking, one = measured.booking, first.booking
        failed = booking.failed_on_server()
        met = measured.double_bookings == 0 and failed == 0
        rows.append(
            (f"booking POST, {_instances(measured.instances)} of 1 sync worker, "
             f"{writes.BOOKING_CLIENTS} clients, half on taken slots",
             f"{booking.measure.throughput:.0f}/s", f"{booking.measure.p50_ms:.1f} ms",
             f"{booking.measure.p95_ms:.1f} ms",
             f"{_instances(first.instances)} {one.measure.throughput:.0f}/s",
             f"{booking.measure.throughput / one.measure.throughput:.2f}×", "",
             f"measured; 0 double bookings, no 5xx: {'met' if met else 'missed'} "
             f"({booking.answered(302, 201, 200)} booked, {booking.answered(409)} × 409, "
             f"{failed} × 5xx or no answer; {measured.double_bookings} double bookings"
             f"{writes._ran_out(booking.exhausted)}{cores_note(measured.instances)})")
        )  # fmt: skip
    return rows


def _instances(count: int) -> str:
    return f"{count} instance{'s' if count > 1 else ''}"


def sweep_rows(runs: list[SweepRun], due: list[int]) -> list[tuple]:
    """A row per count of workers, against the first count measured. No worker is killed
    here, so the repeat window outbox.py documents (a killed worker's batch) never opens:
    every repeat counts against the row."""
    first = runs[0]
    rows = []
    for measured in runs:
        twice, unsent = measured.twice(), measured.unsent(due)
        met = twice == 0 and unsent == 0
        workers = f"{measured.processes} Celery worker{'s' if measured.processes > 1 else ''}"
        rows.append(
            (f"reminder sweep, {workers} (solo), {len(due)} due (file email)",
             f"{measured.throughput:.0f}/s", "", "",
             f"{first.processes} worker{'s' if first.processes > 1 else ''} "
             f"{first.throughput:.0f}/s",
             f"{measured.throughput / first.throughput:.2f}×", "",
             f"measured; none sent twice, none lost: {'met' if met else 'missed'} "
             f"(sent twice {twice}, not sent {unsent}{cores_note(measured.processes)})")
        )  # fmt: skip
    return rows


def measured_pages(day: str) -> dict[str, tuple[str, str]]:
    """The day view and the chart (bench.run.pages), and the trivial page as the
    reference: name, (path, the session cookie it is read with)."""
    reception, clinician = run.session_cookie("reception"), run.session_cookie("dermatologist")
    pages = {
        name: (path, clinician if name.startswith("chart") else reception)
        for name, path in run.pages(day).items()
        if not name.startswith("week")
    }
    return {**pages, "trivial view": ("/bench/trivial/", reception)}


def scale_rows(
    env: dict[str, str], *, day: str, broker_url: str = REDIS_URL,
    worker_settings: str = "bench.settings", instances: tuple[int, ...] = COUNTS,
    workers: tuple[int, ...] = COUNTS, rounds: int = run.ROUNDS, seconds: int = run.SECONDS,
) -> list[tuple]:  # fmt: skip
    """The report's rows: the pages and booking on each count of instances, the reminder
    sweep on each count of workers."""
    pages = measured_pages(day)
    writes.bench_rows_delete()  # what an interrupted run left
    web = [web_run(count, env, pages, rounds=rounds, seconds=seconds) for count in instances]
    if not redis_answers(broker_url):
        missing = f"not measured: no Redis answers at {broker_url} (BENCH_REDIS_URL)"
        return [*web_rows(web), ("reminder sweep, Celery workers", missing, *[""] * 6)]
    due, due_again = run.due_scale_reminders()
    sweeps = [
        sweep_with_workers(
            count, due, due_again, env=env, broker_url=broker_url, settings=worker_settings
        )
        for count in workers
    ]
    return web_rows(web) + sweep_rows(sweeps, due)


def redis_answers(url: str) -> bool:
    """Whether the broker is up: Celery would wait for it for ever."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False
