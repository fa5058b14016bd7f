"""The reminder sweep in one process and in two at once, over the same due reminders.

Each sweep process is a real process (`python -m bench.sweep_processes`) with Django's
in-memory email backend. It sets itself up (Django, the URLconf, a database connection),
says it is ready, waits for the word to start, sweeps until nothing is due and then
tells the parent when it started and ended and which reminders its messages were for (the
"reminder.<id>" in each Message-ID). The parent times the sweeps from the first start to
the last end and counts the messages per reminder: two processes must send each reminder
once, as one does (the claim's SKIP LOCKED gives them disjoint rows).
"""

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGE_ID = re.compile(r"\.reminder\.(\d+)@")


@dataclass
class SweepRun:
    processes: int
    throughput: float  # reminders per second, from the first start to the last end
    messages: Counter[int]  # messages sent per reminder id

    def twice(self) -> int:
        """Reminders whose message went more than once."""
        return sum(1 for count in self.messages.values() if count > 1)

    def unsent(self, due: list[int]) -> int:
        return sum(1 for pk in due if pk not in self.messages)


def sweep_in_processes(processes: int, due: list[int], *, env: dict[str, str]) -> SweepRun:
    """Start `processes` sweep processes, let them go together, gather what they sent."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.sweep_processes"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            while (line := worker.stdout.readline()) and line.strip() != "ready":
                pass  # whatever setting up wrote before
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=600)[0] for worker in workers]
        reports = [json.loads(output.splitlines()[-1]) for output in outputs]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    messages = Counter(pk for report in reports for pk in report["sent"])
    return SweepRun(processes, len(due) / seconds, messages)


def two_processes_against_one(
    due: list[int], due_again: Callable[[], None], *, env: dict[str, str]
) -> tuple[SweepRun, SweepRun]:
    """The due reminders swept by one process, then (due again) by two."""
    due_again()
    one = sweep_in_processes(1, due, env=env)
    due_again()
    two = sweep_in_processes(2, due, env=env)
    due_again()
    return one, two


def worker() -> None:
    from bench.run import setup_django

    setup_django()
    from django.conf import settings
    from django.core import mail
    from django.db import connection

    from clinic.channels import templates_load
    from clinic.outbox import reminders_send_due

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    connection.ensure_connection()
    templates_load()  # imports the URLconf, as a running worker has long done
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    while reminders_send_due()["sent"]:
        pass
    ended = time.time()
    sent = [
        int(MESSAGE_ID.search(message.extra_headers["Message-ID"])[1]) for message in mail.outbox
    ]
    print(json.dumps({"started": started, "ended": ended, "sent": sent}), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    worker()
