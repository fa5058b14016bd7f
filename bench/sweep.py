"""How fast the reminder sweep empties a backlog, against the bare SQL underneath it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic_outbox .venv/bin/python bench/sweep.py

Creates a throw-away test database (Django's test database machinery: the name of
DATABASE_URL's database with "test_" in front), fills it with 10,000 due reminders
twice, and times:
  1. the bare claim-and-update: `reminders_claim` batches marked sent with one UPDATE each,
     no rendering and no channel;
  2. the real sweep: claim, render the templates, sign the links, hand each message to
     Django's in-memory email backend, mark the sent rows together (clinic/outbox.py).
Then drops the database.
"""

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinic.models import Reminder  # noqa: E402
from clinic.outbox import reminders_claim, reminders_send_due  # noqa: E402
from patients.models import Patient  # noqa: E402

COUNT = int(os.environ.get("BENCH_REMINDERS", "10000"))


def fill(patient: Patient) -> None:
    Reminder.objects.all().delete()
    due = timezone.now() - timedelta(minutes=5)
    starts_at = due + timedelta(hours=24)
    Reminder.objects.bulk_create(
        [
            Reminder(
                patient=patient,
                recipient_name="Ada Lovelace",
                channel="email",
                email=f"person{n}@example.com",
                kind=Reminder.Kind.APPOINTMENT,
                send_at=due,
                next_attempt_at=due,
                idempotency_key=f"appointment:{n}:reminder-24h:email",
                source_key=f"appointment:{n}",
                context={
                    "starts_at": starts_at.isoformat(),
                    "ends_at": (starts_at + timedelta(minutes=15)).isoformat(),
                    "dermatologist": "Dr. Ana Ortiz",
                    "event_uid": f"appointment-{n}@clinic.example.com",
                    "for_guardian": False,
                    "patient_first_name": "Ada",
                    "links": {
                        "confirm_url": ["confirm", n],
                        "cancel_url": ["cancel", n],
                        "stop_url": ["stop", patient.pk],
                    },
                },
            )
            for n in range(COUNT)
        ],
        batch_size=1000,
    )


def bare_claim_and_update() -> float:
    started = time.perf_counter()
    while ids := reminders_claim(limit=settings.CLINIC_REMINDER_BATCH_SIZE):
        Reminder.objects.filter(id__in=ids).update(
            status=Reminder.Status.SENT, sent_at=timezone.now(), next_attempt_at=None
        )
    return time.perf_counter() - started


def full_sweep() -> float:
    started = time.perf_counter()
    while reminders_send_due()["sent"]:
        pass  # a sweep stops after SWEEP_SECONDS; the next minute's goes on
    return time.perf_counter() - started


def main() -> None:
    setup_test_environment()  # the in-memory email backend
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        patient = Patient.objects.create(
            first_name="Ada",
            last_name="Lovelace",
            date_of_birth="1990-05-17",
            email="ada@example.com",
            reminder_consent=True,
            reminder_consent_changed_at=timezone.now(),
        )
        fill(patient)
        bare = bare_claim_and_update()
        fill(patient)
        mail.outbox = []
        sweep = full_sweep()
        sent = Reminder.objects.filter(status=Reminder.Status.SENT).count()
        assert sent == COUNT == len(mail.outbox), (sent, len(mail.outbox))
        print(f"database: {connection.vendor}, {COUNT} due reminders, batch size "
              f"{settings.CLINIC_REMINDER_BATCH_SIZE}")  # fmt: skip
        print(f"bare claim + update: {bare:7.2f} s  {COUNT / bare:8.0f} reminders/s")
        print(f"full sweep (locmem): {sweep:7.2f} s  {COUNT / sweep:8.0f} reminders/s")
        print(f"sweep / bare SQL:    {sweep / bare:7.1f} x")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
